# Multi-stage build: compile in the Rust image, ship only the binary and configuration.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /app luotsi
WORKDIR /app
COPY --from=build /src/target/release/luotsi /usr/local/bin/luotsi
COPY config config
USER luotsi
# In a container Redis is a service of its own: set LUOTSI_REDIS_URL (redis://redis:6379).
ENV LUOTSI_GRPC_ADDR=0.0.0.0:50051 \
    LUOTSI_HTTP_ADDR=0.0.0.0:8080
EXPOSE 50051 8080
ENTRYPOINT ["luotsi"]
CMD ["serve"]
