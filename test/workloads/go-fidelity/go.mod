module probeflow.test/gofidelity

go 1.17
