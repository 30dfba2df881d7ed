// `@somaagent/workflows/s3`: the S3 adapter and the client it is built with (the AWS SDK loads here only).
export { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
export { S3ObjectStorage } from './S3ObjectStorage';
