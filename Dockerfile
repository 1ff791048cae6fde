# syntax=docker/dockerfile:1
# Image of the orchestrator: a static binary on distroless, as non-root.
#   docker build -t registry.example.com/pcupgrade/orchestrator:$(git rev-parse --short=12 HEAD) .
# Pin the base images by digest in your registry mirror for reproducible builds
# (e.g. golang:1.26@sha256:..., gcr.io/distroless/static:nonroot@sha256:...).

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download && go mod verify
COPY . .
# .git is part of the build context on purpose: Go stamps the VCS revision
# into the binary, which `orchestrator --version` and orchestrator_build_info
# report.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/orchestrator ./cmd/orchestrator \
    && /out/orchestrator --version

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/orchestrator /orchestrator
# distroless "nonroot" is uid/gid 65532; the Kubernetes manifests run as it.
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/orchestrator"]
CMD ["serve"]
