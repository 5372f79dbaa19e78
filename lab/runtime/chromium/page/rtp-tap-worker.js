// RTCRtpScriptTransform worker (browsers without encoded insertable streams, e.g. Firefox):
// reports every received encoded frame (one audio RTP packet) to the page, then passes it on.
// Times are moved onto the page's performance.now() timeline by the page (timeOrigin differs).
'use strict';
onrtctransform = event => {
  const { readable, writable } = event.transformer;
  const tap = new TransformStream({
    transform(frame, controller) {
      const now = performance.now();
      const m = frame.getMetadata();
      self.postMessage({
        seq: m.sequenceNumber, ssrc: m.synchronizationSource, rtp_timestamp: frame.timestamp,
        receive_time: typeof m.receiveTime === 'number' ? performance.timeOrigin + m.receiveTime : null,
        transform_time: performance.timeOrigin + now, keys: Object.keys(m),
      });
      controller.enqueue(frame);
    },
  });
  readable.pipeThrough(tap).pipeTo(writable).catch(() => {});
};
