# Local stand-in for axllent/mailpit: Debian's python3-aiosmtpd accepts any
# mail on 1025, keeps it (in memory and as .eml files in /data), and serves a
# read-only inbox on 8025 with a small part of Mailpit's API (see mailcatcher.py).
# The local base (RUNTIME_IMAGE_LOCAL in dockerfiles/images.env), passed by
# build-offline-images.sh.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# Unpinned on purpose: bookworm only takes security fixes, and a pinned version
# disappears from the mirror when the next one lands.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-aiosmtpd wget \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10025 mail-catcher \
 && useradd --system --uid 10025 --gid 10025 --home-dir /data --shell /usr/sbin/nologin mail-catcher \
 && mkdir -p /data \
 && chown mail-catcher:mail-catcher /data
COPY --chmod=0755 mailcatcher.py /usr/local/bin/mailcatcher
USER 10025:10025
VOLUME /data
EXPOSE 1025 8025
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8025/livez"]
ENTRYPOINT ["/usr/local/bin/mailcatcher"]
