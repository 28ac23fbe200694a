import { afterEach, describe, expect, it } from 'vitest';
import { remoteWriteSink } from '../../sinks/remote-write.js';
import { RemoteWriteReceiver } from '../helpers/push-receiver.js';
import { gauge, testContext } from '../helpers/samples.js';

/**
 * The receiver is gone for two minutes while samples keep coming (one every 50 ms), then comes
 * back on the same port: every sample that fitted in the queue arrives, in order; every one that
 * did not is counted as dropped — exactly.
 */
describe('a sink whose receiver is down for minutes', () => {
  const receivers: RemoteWriteReceiver[] = [];
  afterEach(async () => Promise.all(receivers.splice(0).map((r) => r.stop())));

  it('loses nothing within the queue bound and counts every drop beyond it', async () => {
    const probe = await new RemoteWriteReceiver().start();
    const port = probe.port;
    await probe.stop();
    const ctx = testContext('outage');
    const sink = remoteWriteSink.create(
      { type: 'remote_write', url: `http://127.0.0.1:${port}/api/v1/write`, queue: { capacity: 1500, max_samples_per_send: 200, batch_send_deadline: '100ms', min_backoff: '50ms', max_backoff: '5s' } },
      ctx,
    );
    const total = 2400;
    let sent = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        sink.write([gauge('outage_seq', sent, 1_700_000_000_000 + sent)], { pipeline: 'p' });
        if (++sent === total) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    const metric = async (name: 'sinkDropped' | 'sinkSent' | 'sinkRetries') => (await ctx.metrics[name].get()).values.reduce((n, v) => n + v.value, 0);
    expect(await metric('sinkDropped')).toBe(total - 1500);
    expect(await metric('sinkRetries')).toBeGreaterThan(10);
    const back = await new RemoteWriteReceiver().start(port);
    receivers.push(back);
    await sink.flush(Date.now() + 20_000);
    expect(back.samples().map((s) => s.value)).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    expect(await metric('sinkSent')).toBe(1500);
    await sink.stop();
  }, 180_000);
});
