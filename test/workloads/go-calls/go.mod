module probeflow.test/gocalls

go 1.17
