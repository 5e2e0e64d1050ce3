#!/bin/sh
# Runs from nginx's /docker-entrypoint.d/ before the templates are rendered: when no
# certificate is mounted at $NGINX_CERT / $NGINX_CERT_KEY, make a self-signed one for
# $NGINX_SERVER_NAME (valid 825 days) so HTTPS works from the first start. Browsers warn
# about it; mount a real certificate for production (docs/deploy.md, "Certificates").
set -eu

cert=${NGINX_CERT:?NGINX_CERT is not set}
key=${NGINX_CERT_KEY:?NGINX_CERT_KEY is not set}
name=${NGINX_SERVER_NAME:-localhost}

if [ -s "$cert" ] && [ -s "$key" ]; then
    echo "workbench: using the certificate at $cert"
    exit 0
fi

case "$name" in
    *[!0-9.]*) san="DNS:$name" ;;
    *) san="IP:$name" ;;
esac

mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 825 \
    -subj "/CN=$name" -addext "subjectAltName=$san" \
    -keyout "$key" -out "$cert" 2>/dev/null
chmod 644 "$cert"
echo "workbench: no certificate mounted; made a self-signed one for $name at $cert"
