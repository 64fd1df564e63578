//! S3 and S3-compatible endpoints (aws-sdk-s3).
