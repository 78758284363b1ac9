#!/bin/bash
# LocalStack runs this once it is ready: the buckets the functions use.
# Same names and defaults as runtime/config/parts.py; provisioning creates them too, idempotently.
set -euo pipefail
for bucket in "${BILLS_BUCKET:-bills}" "${JOBS_BUCKET:-billing-jobs}" "${CUSTOMERS_BUCKET:-crm-customers}"; do
  if awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    echo "bucket $bucket exists"
  else
    awslocal s3 mb "s3://$bucket"
  fi
done
