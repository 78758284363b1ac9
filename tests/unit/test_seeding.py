"""The cost tests' seeding (``harness.WrittenInPlace``) leaves in moto's store what the
same writes through S3's API leave: a test that seeds in place reads what it would have."""

from __future__ import annotations

from functions.storage.bucket import Bucket
from tests.unit.harness import S3Harness, WrittenInPlace


def test_an_object_written_in_place_reads_as_one_written_through_the_api(
    s3_harness: S3Harness,
) -> None:
    name = s3_harness.services.settings.bills_bucket
    through_api, in_place = Bucket(s3_harness.s3, name), WrittenInPlace(s3_harness.s3, name)
    for bucket, key in ((through_api, "api.txt"), (in_place, "in-place.txt")):
        written = bucket.put_bytes(
            key, b"a bill", "text/plain; charset=utf-8", metadata={"workflow-id": "w-1"}
        )
        assert written is not None
        assert bucket.put_bytes(key, b"again", "text/plain", only_if_absent=True) is None
    api, seeded = (
        s3_harness.s3.get_object(Bucket=name, Key=k) for k in ("api.txt", "in-place.txt")
    )
    for field in ("ContentType", "Metadata", "ETag", "ContentLength"):
        assert seeded[field] == api[field], field
    assert seeded["Body"].read() == api["Body"].read() == b"a bill"
    listed = {key: size for key, _, size in through_api.objects()}
    assert listed == {"api.txt": 6, "in-place.txt": 6}
