# syntax=docker/dockerfile:1
# One image per service, from one file: docker build --build-arg SERVICE=gateway .
# SERVICE is session, gateway, reporter or poller. The result is a static binary on a
# distroless base, running as an unprivileged user; `/app healthcheck` is its health probe.

FROM golang:1.26-alpine AS build
ARG SERVICE
WORKDIR /src
ENV CGO_ENABLED=0
# The whole workspace is bound, not copied: go.work names every module, and the build cache
# and module cache outlive the layer.
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    test -n "$SERVICE" && \
    go build -trimpath -ldflags="-s -w" -o /out/app ./services/${SERVICE}/cmd/openqq-${SERVICE}

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
USER nonroot:nonroot
ENV HEALTH_ADDR=0.0.0.0:8081
EXPOSE 8081
ENTRYPOINT ["/app"]
