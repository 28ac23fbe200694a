module probeflow.bench/gocalls

go 1.17
