// Package deploy checks the deployment files (docker-compose.yml, Dockerfile, deploy/nats.conf,
// deploy/nats-users.conf, scripts/run-cluster.sh) without Docker: the compose file is parsed as
// Docker Compose parses it and held against the services' configuration; the cluster tests run
// the services as processes around real nats-server processes, one node or a 3-node cluster
// (skipped with -short).
package deploy
