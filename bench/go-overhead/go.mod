module probeflow.bench/gooverhead

go 1.17
