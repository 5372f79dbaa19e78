// icelab's browser peer, the leg through a Janus SFU (config.sfu): the same contract as the
// aiortc agent's lab/runtime/agent/janus_session.py, in JS. peer.js hands the leg its
// RTCPeerConnection (begin) and the policy's restarts (restart); everything the page reports goes
// through the hooks it passes (emit, addMedia, candidateFields, ufragOf, generation).
//
// Janus's API is driven by the client, one exchange at a time per leg, so there is no glare and
// no perfect negotiation: the publisher always offers (publish; an ICE restart is an offer made
// with iceRestart in `configure`), the subscriber always answers Janus's offers (join; an ICE
// restart is `configure` with restart: true, answered with `start`).
'use strict';

const IcelabJanus = (() => {
  const PLUGIN = 'janus.plugin.videoroom';
  const FEED_NOT_READY = new Set([428, 435]);   // no such feed / not published yet
  const LIVENESS_MS = 1000;       // a browser cannot see WebSocket pings: a keepalive each second
  const RECONNECT_MS = 10000;
  const RESTART_REQUEST_MS = 4000;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const transactionId = () => Array.from(crypto.getRandomValues(new Uint8Array(8)),
    b => b.toString(16).padStart(2, '0')).join('');

  class JanusError extends Error {
    constructor(code, reason) { super(`Janus error ${code}: ${reason}`); this.code = code; }
  }
  class JanusGone extends Error {}
  class JanusTimeout extends Error {}

  // One WebSocket to the Janus API (subprotocol janus-protocol), replaced when lost: a new socket
  // `claim`s the session (Janus keeps it for its reclaim timeout). Requests wait while it is
  // replaced; a claim Janus refuses (it was restarted) or no Janus for RECONNECT_MS: gone for good.
  class JanusApi {
    constructor(url, onState) {
      this.url = url; this.onState = onState;
      this.ws = null; this.pending = new Map(); this.queue = [];
      this.sessionId = null; this.handleId = null;
      this.reconnecting = false; this.gone = null; this.closing = false;
      this.onHandleEvent = () => {};
      this.liveness = null;
    }
    open() {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(this.url, 'janus-protocol');
        const timer = setTimeout(() => { ws.close(); reject(new Error('WebSocket open timed out')); }, 2000);
        ws.onopen = () => { clearTimeout(timer); resolve(ws); };
        ws.onerror = () => { clearTimeout(timer); reject(new Error('WebSocket error')); };
      });
    }
    async connect() { this.use(await this.open()); }
    use(ws) {
      this.ws = ws;
      ws.onmessage = ev => this.dispatch(JSON.parse(ev.data));
      ws.onclose = () => { if (ws === this.ws && !this.closing) this.reconnect('WebSocket closed'); };
    }
    dispatch(msg) {
      const waiting = msg.transaction ? this.pending.get(msg.transaction) : undefined;
      if (waiting) {
        if (msg.janus === 'error') {
          this.pending.delete(msg.transaction);
          waiting.reject(new JanusError(msg.error && msg.error.code, msg.error && msg.error.reason));
          return;
        }
        if (msg.janus === 'ack' && waiting.untilEvent) return;   // the plugin's event follows
        if (['ack', 'success', 'event', 'server_info'].includes(msg.janus)) {
          this.pending.delete(msg.transaction);
          const data = (msg.plugindata && msg.plugindata.data) || {};
          if (data.error) waiting.reject(new JanusError(data.error_code, data.error));
          else waiting.resolve(msg);
          return;
        }
      }
      if (msg.sender === this.handleId) this.onHandleEvent(msg);
    }
    request(body, { untilEvent = false, timeoutMs = 10000 } = {}) {
      if (this.gone) return Promise.reject(new JanusGone(this.gone));
      const transaction = transactionId();
      const msg = { ...body, transaction };
      if (this.sessionId !== null && body.janus !== 'create') msg.session_id = this.sessionId;
      if (this.handleId !== null && ['message', 'trickle', 'hangup', 'detach'].includes(body.janus)) {
        msg.handle_id = this.handleId;
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(transaction);
          this.queue = this.queue.filter(m => m.transaction !== transaction);   // never sent late
          reject(new JanusTimeout(`${body.janus} unanswered in ${timeoutMs} ms`));
        }, timeoutMs);
        const pending = {
          untilEvent, msg, sentOn: null,
          resolve: v => { clearTimeout(timer); resolve(v); },
          reject: e => { clearTimeout(timer); reject(e); },
        };
        this.pending.set(transaction, pending);
        if (this.reconnecting || !this.ws || this.ws.readyState !== WebSocket.OPEN) this.queue.push(msg);
        else { pending.sentOn = this.ws; this.ws.send(JSON.stringify(msg)); }
      });
    }
    startLiveness() {
      this.liveness = setInterval(() => {
        if (this.gone || this.reconnecting || this.sessionId === null) return;
        this.request({ janus: 'keepalive' }, { timeoutMs: 2 * LIVENESS_MS }).catch(e => {
          if (e instanceof JanusTimeout) this.reconnect('keepalive unanswered');
        });
      }, LIVENESS_MS);
    }
    async reconnect(reason) {
      if (this.reconnecting || this.gone || this.closing) return;
      this.reconnecting = true;
      this.onState('reconnecting', reason);
      const old = this.ws;
      if (old) { old.onclose = null; try { old.close(); } catch (e) { /* already closed */ } }
      const deadline = performance.now() + RECONNECT_MS;
      let last = reason;
      while (performance.now() < deadline && !this.closing) {
        let ws;
        try { ws = await this.open(); } catch (e) { last = String(e); await sleep(200); continue; }
        const refused = await this.claim(ws);
        if (refused !== null) { ws.close(); this.fail(refused); return; }
        this.use(ws);
        this.reconnecting = false;
        this.onState('reclaimed', null);
        // unanswered requests sent on the lost socket never reached Janus: send them again
        const queued = this.queue.splice(0);
        for (const pending of this.pending.values()) {
          if (pending.sentOn !== null && pending.sentOn !== ws && !queued.includes(pending.msg)) queued.push(pending.msg);
        }
        for (const m of queued) {
          const pending = this.pending.get(m.transaction);
          if (pending) pending.sentOn = ws;
          ws.send(JSON.stringify(m));
        }
        return;
      }
      this.fail(`Janus unreachable for ${RECONNECT_MS / 1000} s after the socket closed (${last})`);
    }
    claim(ws) {
      return new Promise(resolve => {
        const transaction = transactionId();
        const timer = setTimeout(() => resolve(`claiming session ${this.sessionId} timed out`), 5000);
        ws.onmessage = ev => {
          const m = JSON.parse(ev.data);
          if (m.transaction !== transaction) { this.dispatch(m); return; }
          clearTimeout(timer);
          resolve(m.janus === 'success' ? null
            : `Janus no longer knows session ${this.sessionId} (error ${m.error && m.error.code}: `
              + `${m.error && m.error.reason}): it was restarted or dropped it`);
        };
        ws.send(JSON.stringify({ janus: 'claim', session_id: this.sessionId, transaction }));
      });
    }
    fail(reason) {
      this.gone = reason;
      this.reconnecting = false;
      for (const waiting of this.pending.values()) waiting.reject(new JanusGone(reason));
      this.pending.clear();
      this.onState('gone', reason);
    }
    close() {
      this.closing = true;
      clearInterval(this.liveness);
      if (this.ws) { this.ws.onclose = null; try { this.ws.close(); } catch (e) { /* closed */ } }
    }
  }

  class JanusLeg {
    constructor(leg, hooks) {
      this.leg = leg; this.hooks = hooks; this.lost = null;
      this.api = new JanusApi(leg.url, (state, reason) => {
        if (state === 'gone') this.lost = reason;
        hooks.emit('sfu_session', { state, reason, leg: leg.leg });
      });
      this.busy = Promise.resolve();   // one exchange at a time on this leg
    }
    reconnectNow() { this.api.reconnect('network change'); }
    close() { this.api.close(); }

    async begin(pc) {
      const { emit } = this.hooks;
      try {
        await this.api.connect();
        this.api.sessionId = (await this.api.request({ janus: 'create' })).data.id;
        this.api.handleId = (await this.api.request({ janus: 'attach', plugin: PLUGIN })).data.id;
        this.api.startLiveness();
        this.api.onHandleEvent = m => this.onHandleEvent(m);
        emit('sfu_session', { state: 'attached', session: this.api.sessionId, handle: this.api.handleId,
                              leg: this.leg.leg });
        pc.onicecandidate = ev => this.trickle(pc, ev.candidate);
        if (this.leg.leg === 'publish') await this.publish(pc);
        else await this.subscribe(pc);
      } catch (e) {
        emit('error', { message: `SFU ${this.leg.leg} leg: ${e}`, fatal: true });
      }
    }
    onHandleEvent(m) {
      if (['webrtcup', 'hangup', 'media', 'slowlink', 'detached'].includes(m.janus)) {
        const fields = {};
        for (const k of ['reason', 'type', 'receiving', 'uplink', 'lost']) if (k in m) fields[k] = m[k];
        this.hooks.emit('sfu_event', { event: m.janus, leg: this.leg.leg, ...fields });
      } else if (m.janus === 'trickle' && m.candidate && m.candidate.candidate) {
        const pc = this.hooks.pc();
        if (pc) pc.addIceCandidate(m.candidate).catch(() => {});
      }
    }
    trickle(pc, candidate) {
      const ufrag = this.hooks.ufragOf(pc.localDescription && pc.localDescription.sdp);
      if (candidate && candidate.candidate) {
        this.hooks.emit('candidate_sent', { gen: this.hooks.generation(), ...this.hooks.candidateFields(candidate, ufrag) });
        this.api.request({ janus: 'trickle', candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid,
                                                          sdpMLineIndex: candidate.sdpMLineIndex } }).catch(() => {});
      } else if (!candidate) {
        this.api.request({ janus: 'trickle', candidate: { completed: true } }).catch(() => {});
      }
    }
    message(body, jsep, timeoutMs = 10000) {
      return this.api.request({ janus: 'message', body, ...(jsep ? { jsep } : {}) }, { untilEvent: true, timeoutMs });
    }
    async offer(pc, body, iceRestart, timeoutMs = 10000) {
      const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : {});
      await pc.setLocalDescription(offer);
      const local = pc.localDescription;
      const negotiationId = transactionId().slice(0, 12);
      this.hooks.emit('offer_sent', { ice_ufrag: this.hooks.ufragOf(local.sdp), gen: this.hooks.generation(),
                                      negotiation_id: negotiationId });
      const reply = await this.message(body, { type: local.type, sdp: local.sdp }, timeoutMs);
      if (!reply.jsep || reply.jsep.type !== 'answer') throw new Error(`Janus answered ${body.request} without an SDP answer`);
      await pc.setRemoteDescription(reply.jsep);
      this.hooks.emit('answer_received', { ice_ufrag: this.hooks.ufragOf(reply.jsep.sdp), gen: this.hooks.generation(),
                                           negotiation_id: negotiationId });
    }
    async answer(pc, jsep, timeoutMs = 10000) {
      if (!jsep || jsep.type !== 'offer') throw new Error('Janus sent no SDP offer to the subscriber');
      const negotiationId = transactionId().slice(0, 12);
      await pc.setRemoteDescription(jsep);
      this.hooks.emit('offer_received', { ice_ufrag: this.hooks.ufragOf(jsep.sdp), gen: this.hooks.generation(),
                                          negotiation_id: negotiationId });
      await pc.setLocalDescription(await pc.createAnswer());
      const local = pc.localDescription;
      this.hooks.emit('answer_sent', { ice_ufrag: this.hooks.ufragOf(local.sdp), gen: this.hooks.generation(),
                                       negotiation_id: negotiationId });
      await this.message({ request: 'start' }, { type: local.type, sdp: local.sdp }, timeoutMs);
    }
    async publish(pc) {
      await this.message({ request: 'join', ptype: 'publisher', room: this.leg.room, id: this.leg.feed,
                           display: 'browser' });
      this.hooks.addMedia(pc);
      await this.offer(pc, { request: 'publish', audio: true, video: false, data: false }, false);
      this.hooks.emit('sfu_session', { state: 'published', leg: 'publish', feed: this.leg.feed });
    }
    async subscribe(pc) {
      const deadline = performance.now() + this.leg.join_timeout_s * 1000;
      let reply;
      for (;;) {
        try {
          reply = await this.message({ request: 'join', ptype: 'subscriber', room: this.leg.room,
                                       streams: [{ feed: this.leg.feed }] });
          break;
        } catch (e) {
          if (!(e instanceof JanusError) || !FEED_NOT_READY.has(e.code) || performance.now() > deadline) throw e;
          await sleep(100);   // the publisher has not published yet
        }
      }
      await this.answer(pc, reply.jsep);
      this.hooks.emit('sfu_session', { state: 'subscribed', leg: 'subscribe', feed: this.leg.feed });
    }

    // The policy's restart of this leg (peer.js emitted `restart`).
    restart(pc) {
      const run = async () => {
        if (this.lost) { this.hooks.emit('sfu_restart_refused', { leg: this.leg.leg, reason: this.lost }); return; }
        for (let attempt = 1; attempt <= 3; attempt++) {
          try {
            if (this.leg.leg === 'publish') {
              await this.offer(pc, { request: 'configure' }, true, RESTART_REQUEST_MS);
            } else {
              const reply = await this.message({ request: 'configure', restart: true }, null, RESTART_REQUEST_MS);
              await this.answer(pc, reply.jsep, RESTART_REQUEST_MS);
            }
            return;
          } catch (e) {
            if (e instanceof JanusGone) {
              this.hooks.emit('sfu_restart_refused', { leg: this.leg.leg, reason: String(e.message) });
              return;
            }
            if (!(e instanceof JanusTimeout)) throw e;
            // the socket to Janus is being replaced (a network change): ask again on the new one
            this.hooks.emit('sfu_event', { event: 'request_timeout', leg: this.leg.leg, attempt });
            if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
          }
        }
      };
      this.busy = this.busy.then(run, run);
      return this.busy;
    }
  }

  return { JanusLeg };
})();
window.IcelabJanus = IcelabJanus;
