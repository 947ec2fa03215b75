// Validates an OpenAPI document against the OpenAPI schema and resolves every $ref.
// Usage: node validate.mjs FILE   (exit 0 and "valid: ..." when valid, exit 1 with the problem otherwise)
import SwaggerParser from '@apidevtools/swagger-parser';

try {
  const api = await SwaggerParser.validate(process.argv[2]);
  console.log(`valid: ${api.info.title}, OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
} catch (error) {
  console.error(`invalid: ${error.message}`);
  process.exit(1);
}
