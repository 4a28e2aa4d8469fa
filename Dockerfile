# syntax=docker/dockerfile:1
#
# bankgate's container image: a static binary (built as scripts/release.sh
# builds it) on distroless static, running as the nonroot user, with the
# SQLite data dir as a volume.
#
#   docker build -t bankgate --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker run -p 8080:8080 -p 127.0.0.1:8081:8081 -v bankgate-data:/data bankgate
#
# For production, give the server key from outside the volume
# (BANKGATE_SECRET_KEY=/run/secrets/bankgate.key) or use PostgreSQL
# (BANKGATE_DATABASE_URL); see docs/operations.md.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/bankgate ./cmd/bankgate \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bankgate /bankgate
# The volume's mount point, owned by nonroot (65532), so that a new named
# volume starts writable by the server.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
# 8080: the Dapi API. 8081: the admin listener (admin API and console,
# behind the admin token, and /metrics without one): publish it only on a
# private network.
ENV BANKGATE_ADDR=0.0.0.0:8080 \
    BANKGATE_ADMIN_ADDR=0.0.0.0:8081 \
    BANKGATE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080 8081
# No curl in the image: the binary asks its own /healthz (on BANKGATE_ADDR).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/bankgate", "healthcheck"]
ENTRYPOINT ["/bankgate"]
CMD ["serve"]
