import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  codeClassIndex,
  codeClasses,
  durationBucketIndex,
  durationBucketsSeconds,
  emptyCodeCounts,
  emptyDurationBuckets,
  sumTraffic,
  type TrafficReport,
} from './traffic.js';

test('a status counts in its class, and anything outside 100-599 as none', () => {
  assert.deepEqual(
    [200, 204, 301, 404, 502, 101, 0, 99, 600, 999].map((status) => codeClasses[codeClassIndex(status)]),
    ['2xx', '2xx', '3xx', '4xx', '5xx', '1xx', 'none', 'none', 'none', 'none'],
  );
});

test('a duration on a bucket bound counts in that bucket (le is inclusive); beyond the last, in +Inf', () => {
  assert.equal(durationBucketIndex(0), 0);
  assert.equal(durationBucketIndex(0.005), 0);
  assert.equal(durationBucketIndex(0.0051), 1);
  assert.equal(durationBucketIndex(10), durationBucketsSeconds.length - 1);
  assert.equal(durationBucketIndex(10.5), durationBucketsSeconds.length);
  assert.equal(emptyDurationBuckets().length, durationBucketsSeconds.length + 1);
});

test('reports of several workers add up per label set, survive JSON and leave the inputs alone', () => {
  const report = (open: number, twoxx: number): TrafficReport => {
    const codes = emptyCodeCounts();
    codes[2] = twoxx;
    const buckets = emptyDurationBuckets();
    buckets[0] = twoxx;
    return {
      listeners: [{ listener: 'web', protocol: 'http', open, accepted: open, bytesIn: 10, bytesOut: 20 }],
      routes: [{ listener: 'web', route: 'r', service: 's', codes, durationBuckets: buckets, durationSumSeconds: 0.5 }],
      endpoints: [
        {
          service: 's',
          endpoint: 'a:1',
          inFlight: 1,
          codes: [...codes],
          durationBuckets: [...buckets],
          bytesOut: 5,
          bytesIn: 7,
        },
      ],
      services: [{ service: 's', retries: 2 }],
    };
  };
  const first = report(1, 3);
  const second = JSON.parse(JSON.stringify(report(2, 4))) as TrafficReport;
  const sum = sumTraffic([first, second]);
  assert.deepEqual(sum.listeners, [
    { listener: 'web', protocol: 'http', open: 3, accepted: 3, bytesIn: 20, bytesOut: 40 },
  ]);
  assert.deepEqual(sum.routes[0]?.codes, [0, 0, 7, 0, 0, 0]);
  assert.equal(sum.routes[0]?.durationBuckets[0], 7);
  assert.equal(sum.routes[0]?.durationSumSeconds, 1);
  assert.deepEqual(sum.endpoints, [
    {
      service: 's',
      endpoint: 'a:1',
      inFlight: 2,
      codes: [0, 0, 7, 0, 0, 0],
      durationBuckets: [7, ...new Array<number>(durationBucketsSeconds.length).fill(0)],
      bytesOut: 10,
      bytesIn: 14,
    },
  ]);
  assert.deepEqual(sum.services, [{ service: 's', retries: 4 }]);
  assert.deepEqual(first.routes[0]?.codes, [0, 0, 3, 0, 0, 0], 'the inputs are not changed');
  assert.equal(first.listeners[0]?.open, 1);
});
