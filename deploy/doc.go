// Package deploy checks the deployment files (docker-compose.yml, Dockerfile) without Docker:
// the compose file is parsed as Docker Compose parses it and held against the services'
// configuration.
package deploy
