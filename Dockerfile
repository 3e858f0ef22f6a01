# wharf in a container: a static binary on a minimal image, run as a non-root user.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t wharf .
#   docker run -d --name wharf -p 21:2121 -p 50000-50099:50000-50099 \
#     -v /srv/wharf/wharf.toml:/etc/wharf/wharf.toml:ro \
#     -v /srv/wharf/data:/srv/ftp -v wharf-state:/var/lib/wharf wharf
# The image's configuration is docker/wharf.toml: the ports below, no users.
# Mount your own copy (with users and [passive] external_address) over it.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/usr/local/bin/wharf . \
 && mkdir -p /out/srv/ftp /out/var/lib/wharf /out/etc/wharf \
 && cp docker/wharf.toml /out/etc/wharf/wharf.toml \
 && /out/usr/local/bin/wharf check --skip-path-checks /out/etc/wharf/wharf.toml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/local/bin/wharf /usr/local/bin/wharf
COPY --from=build /out/etc/wharf/wharf.toml /etc/wharf/wharf.toml
COPY --from=build --chown=65532:65532 /out/srv/ftp /srv/ftp
COPY --from=build --chown=65532:65532 /out/var/lib/wharf /var/lib/wharf
# distroless's nonroot user: no root inside the container.
USER 65532:65532
# Data (the folders users see) and state (bans) outlive the container.
VOLUME ["/srv/ftp", "/var/lib/wharf"]
# control (plain FTP and explicit FTPS), passive range, metrics and /healthz
EXPOSE 2121 50000-50099 9122
# `wharf health` asks /healthz on the [metrics] listen address of /etc/wharf/wharf.toml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/wharf", "health"]
ENTRYPOINT ["/usr/local/bin/wharf"]
CMD ["serve", "--config", "/etc/wharf/wharf.toml"]
