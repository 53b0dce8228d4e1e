# Local stand-in for nginx:*-alpine, from Debian's nginx: same config layout
# (/etc/nginx/conf.d/*.conf), logs to stdout/stderr, graceful stop on SIGQUIT.
# The local base (RUNTIME_IMAGE_LOCAL in dockerfiles/images.env), passed by
# build-offline-images.sh.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

# Unpinned on purpose: bookworm only takes security fixes, and a pinned version
# disappears from the mirror when the next one lands.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx wget \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log

EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
