// The AWS keys the test stores accept, each with its secret and session
// token: one per link of the credential chain, so that a test sees which
// link signed a request. Secrets hold '/', '+' and '=' as real ones do.
// Test values, not credentials of anything.
'use strict';
module.exports = {
  KEYS: {
    AKIAFLOPSENV0000TEST: { secret: 'env/Secret+Key=0000flopsmeterTESTsecret', token: '' },
    AKIAFLOPSTOKEN00TEST: { secret: 'tok/Secret+Key=1111flopsmeterTESTsecret', token: 'FwoGZXIvYXdzSESSION+token/with=chars' },
    AKIAFLOPSPROFILETEST: { secret: 'prof/Secret+Key=2222flopsmeterTESTsecret', token: '' },
    AKIAFLOPSCONFIG0TEST: { secret: 'conf/Secret+Key=3333flopsmeterTESTsecret', token: '' },
    ASIAFLOPSECS0000TEST: { secret: 'ecs/Secret+Key=4444flopsmeterTESTsecret', token: 'ECSsessionTOKEN/abc+def=' },
    ASIAFLOPSIMDS000TEST: { secret: 'imds/Secret+Key=5555flopsmeterTESTsecret', token: 'IMDSsessionTOKEN/ghi+jkl=' },
  },
  ECS_AUTHORIZATION: 'ecs-authorization-token-for-tests',
};
if (require.main === module) {
  // node test_keys.js KEY_ID secret|token: one value, for the shell scripts
  const [id, field] = process.argv.slice(2);
  process.stdout.write(id === 'ecs-authorization' ? module.exports.ECS_AUTHORIZATION : module.exports.KEYS[id][field]);
}
