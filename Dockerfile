# Multi-stage build: compile in the Rust image, ship the binary, the configuration and
# redis-server (for the embedded default, its data on the volume /app/data). ca-certificates:
# the token verifier's HTTP client (OpenID Connect discovery) refuses to start without roots.
#
# Base images are pinned by digest: a tag moved in the registry cannot change what is built.
# To build on other bases (a mirror, a locally built base), override both, e.g.
#   docker build --build-arg RUST_IMAGE=… --build-arg RUNTIME_IMAGE=… .
ARG RUST_IMAGE=rust:1-slim-bookworm@sha256:94e9efa4033213dbb70d4f665527e7ece3944ddb7ba1dd2e43f6fd6e2490af58
ARG RUNTIME_IMAGE=debian:bookworm-slim@sha256:4b50eb66f977b4062683ff434ef18ac191da862dbe966961bc11990cf5791a8d

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
# Declared in Cargo.toml (a bench, a test binary): cargo refuses a manifest whose targets are
# missing, even for a release build of the binary.
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin luotsi

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app luotsi \
    && mkdir -p /app/data \
    && chown luotsi /app/data \
    && chmod 0700 /app/data
WORKDIR /app
COPY --from=build /src/target/release/luotsi /usr/local/bin/luotsi
COPY config config
USER luotsi
# Everything Luotsi writes is under /app/data (the embedded Redis's append-only file, the
# development CA and keys, the generated secrets): mount a volume there and run the rest
# read-only (`docker run --read-only -v luotsi-data:/app/data …`). For an external Redis set
# LUOTSI_REDIS_URL (rediss://luotsi:…@redis:6380, README "Redis access").
VOLUME ["/app/data"]
ENV LUOTSI_GRPC_ADDR=0.0.0.0:50051 \
    LUOTSI_HTTP_ADDR=0.0.0.0:8080
EXPOSE 50051 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["luotsi", "health"]
ENTRYPOINT ["luotsi"]
CMD ["serve"]
