#!/bin/bash
# What the localstack/localstack image's docker-entrypoint.sh does, in short: LOCALSTACK_*
# variables without their prefix, the BOOT init scripts, then LocalStack in the foreground
# (which runs /etc/localstack/init/ready.d once S3 is up and reports it at
# /_localstack/init/ready).
set -eo pipefail
source <(env | grep -v -e '^LOCALSTACK_HOST' -e '^LOCALSTACK_[[:digit:]]' \
             | sed -ne 's/^LOCALSTACK_\([^=]\+\)=.*/export \1=${LOCALSTACK_\1}/p')
mkdir -p /var/lib/localstack/logs
if [ -d /etc/localstack/init/boot.d ]; then
  python -m localstack.runtime.init BOOT
fi
exec python -m localstack.runtime.main
