module probeflow.example/demo-workload

go 1.17
