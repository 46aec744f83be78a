/**
 * What the Lambda bundles carry in place of the AWS SDK's default credential chain
 * (`@aws-sdk/credential-provider-node`; see `lambdaCredentials` in src/build/bundle.ts). Lambda
 * hands every function its execution role's credentials in `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, the first link of that chain, so the others
 * (SSO, INI files, processes, web identity, ECS and EC2 metadata) are never reached there. Outside
 * Lambda, Seglog's code imports the SDK's own chain.
 */
import { fromEnv, type FromEnvInit } from "@aws-sdk/credential-provider-env";

export const defaultProvider = (init: FromEnvInit = {}) => fromEnv(init);
