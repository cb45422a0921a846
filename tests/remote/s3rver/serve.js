'use strict';
// The weightfs S3 tests' server: @20minutes/s3rver (a real S3 implementation
// that verifies every AWS Signature V4) on 127.0.0.1, on a free port.
//
//   node serve.js STORE_DIR ACCESS_KEY SECRET_KEY BUCKET/PREFIX=LOCAL_DIR...
//
// Creates each bucket, uploads every file under LOCAL_DIR as an object
// under PREFIX (through s3rver's own store, so ETags and sizes are s3rver's),
// removes s3rver's built-in S3RVER/S3RVER key, adds ACCESS_KEY/SECRET_KEY,
// then prints one line, {"port": N}, and serves until stdin closes or it is
// sent SIGTERM.
const fs = require('fs');
const path = require('path');
const S3rver = require('@20minutes/s3rver');
const AWSAccount = require('@20minutes/s3rver/lib/models/account');
const S3Object = require('@20minutes/s3rver/lib/models/object');

function walk(dir, rel = '') {
  const out = [];
  for (const ent of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out;
}

async function main() {
  const [storeDir, accessKey, secretKey, ...uploads] = process.argv.slice(2);
  const specs = uploads.map((u) => {
    const eq = u.indexOf('=');
    const target = u.slice(0, eq);
    const slash = target.indexOf('/');
    return {
      bucket: slash < 0 ? target : target.slice(0, slash),
      prefix: slash < 0 ? '' : target.slice(slash + 1),
      dir: u.slice(eq + 1),
    };
  });
  const buckets = [...new Set(specs.map((s) => s.bucket))].map((name) => ({ name }));
  const server = new S3rver({
    address: '127.0.0.1', port: 0, silent: true, directory: storeDir,
    configureBuckets: buckets,
  });
  const addr = await server.run();
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
  for (const s of specs) {
    for (const rel of walk(s.dir)) {
      const content = fs.readFileSync(path.join(s.dir, rel));
      await server.store.putObject(new S3Object(s.bucket, s.prefix + rel, content,
        { 'content-length': String(content.length) }));
    }
  }
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
  const stop = () => server.close(() => process.exit(0));
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`serve.js: ${err.stack || err}\n`);
  process.exit(1);
});
