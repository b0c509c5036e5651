# The image deploy/k8s-indexed-job.yaml and deploy/k8s-merge-job.yaml run: the anuvad
# binary on Debian slim, no model inside (pods read it from ANUVAD_HOME on their volume).
#
#   docker build -t registry.example.com/anuvad:0.1.0 .    # or: podman build …
#   docker push registry.example.com/anuvad:0.1.0
#
# Untested: the project's machines have no container runtime; the build is the README's
# `cargo build --release`.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin anuvad

FROM docker.io/library/debian:bookworm-slim
# CA certificates for `anuvad models pull` (Hugging Face over HTTPS).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/anuvad /usr/local/bin/anuvad
# Not root: the Jobs give this group write access to their volume (fsGroup).
RUN groupadd --system --gid 10001 anuvad \
    && useradd --system --uid 10001 --gid 10001 --no-create-home anuvad
USER 10001:10001
CMD ["anuvad", "--help"]
