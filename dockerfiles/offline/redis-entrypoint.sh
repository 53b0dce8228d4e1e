#!/bin/bash
# Entrypoint of the local Redis stand-in (dockerfiles/images.env), after the
# official image's.
set -euo pipefail

# `docker run IMAGE --appendonly yes` or `IMAGE /path/redis.conf` start the server.
if [[ "${1:-}" == -* || "${1:-}" == *.conf ]]; then
  set -- redis-server "$@"
fi

if [[ "${1:-}" == redis-server ]]; then
  # Without a config file Redis would refuse non-loopback clients.
  if [[ "${2:-}" != *.conf && " $* " != *" --protected-mode "* ]]; then
    set -- "$@" --protected-mode no
  fi
  if [[ "$(id -u)" == 0 ]]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
