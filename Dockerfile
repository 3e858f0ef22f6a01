# wharf in a container: a static binary on a minimal, non-root image.
#   docker build -t wharf .
#   docker run -d --name wharf \
#     -p 21:2121 -p 990:9990 -p 50000-50099:50000-50099 -p 9122:9122 \
#     -v /srv/wharf/config:/etc/wharf:ro -v /srv/wharf/data:/srv/ftp wharf
# The configuration (/etc/wharf/wharf.toml) must listen on the container ports
# below and set [passive] external_address to the host's public address.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wharf . \
 && mkdir -p /out/srv/ftp /out/var/lib/wharf /out/var/log/wharf

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wharf /usr/local/bin/wharf
COPY --from=build --chown=65532:65532 /out/srv/ftp /srv/ftp
COPY --from=build --chown=65532:65532 /out/var/lib/wharf /var/lib/wharf
COPY --from=build --chown=65532:65532 /out/var/log/wharf /var/log/wharf
USER 65532:65532
VOLUME ["/etc/wharf", "/srv/ftp", "/var/lib/wharf"]
# control (plain and explicit FTPS), implicit FTPS, passive range, metrics
EXPOSE 2121 9990 50000-50099 9122
# /healthz on the metrics listener answers 200 while the FTP listeners accept.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/wharf", "health", "--url", "http://127.0.0.1:9122/healthz"]
ENTRYPOINT ["/usr/local/bin/wharf"]
CMD ["serve", "--config", "/etc/wharf/wharf.toml"]
