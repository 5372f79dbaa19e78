// icelab's browser peer: the same peer contract as the aiortc agent (lab/runtime/agent), in JS.
//
// The Python driver (lab/runtime/chromium) loads this page, calls icelab.start(config), and
// receives batches of events through window.icelabEmit(). Every event carries tp, a
// performance.now() reading; the driver maps it onto the agent process's time.monotonic().
// Commands come back through icelab.command({cmd: ...}).
'use strict';

const icelab = (() => {
  let cfg = null;
  const outbox = [];
  let flushTimer = null;

  function emit(kind, fields = {}, tp = performance.now()) {
    outbox.push({ tp, kind, ...fields });
    if (flushTimer === null) flushTimer = setTimeout(flush, 20);
  }
  function flush() {
    flushTimer = null;
    if (!outbox.length) return;
    const batch = outbox.splice(0);
    window.icelabEmit(batch).catch(() => {});
  }
  function log(line) { emit('log', { line }); }
  function hex(n) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
  }
  function ufragOf(sdp) {
    const m = /^a=ice-ufrag:(\S+)/m.exec(sdp || '');
    return m ? m[1] : null;
  }
  const sleep = ms => new Promise(r => setTimeout(r, ms));

  // ---------------------------------------------------------------- signaling
  // The wire protocol of lab/rtc/signaling (server.py, client.py, reliable.py): join with
  // (room, peer, incarnation); "msg" frames {src, inc, seq, id, base, body} delivered in order
  // once each and acknowledged cumulatively ("ack" {src, to, for, ack}); unacknowledged
  // messages are sent again on a timer, after a reconnect and when the other peer (re)appears.
  class LabSignaling {
    constructor(url, room, peer, onMessage, onState) {
      this.url = url; this.room = room; this.peer = peer;
      this.onMessage = onMessage; this.onState = onState;
      this.inc = hex(4);
      this.nextSeq = 1;
      this.unacked = new Map();   // seq -> {frame, lastSent, attempts}
      this.inbound = new Map();   // src -> {inc, delivered, early: Map}
      this.retired = new Set();
      this.ws = null; this.joined = false; this.joinSent = false; this.closing = false;
      this.backoffTimer = null;
      this.attempt = 0; this.connects = 0; this.skipBackoff = false;
      this.deadUntil = 0;         // outage window (performance.now ms)
      this.lastError = null;
      this.rto = 500; this.maxRto = 4000;
      this.otherPresent = false;
      this.keepalives = 0;
      // a browser cannot see WebSocket pings: a message the present peer has not acknowledged
      // within ackTimeout means the socket is dead (e.g. its source address is gone)
      this.ackTimeout = 3000;
    }
    start() {
      this.retransmitTimer = setInterval(() => this.retransmit(), Math.max(20, this.rto / 4));
      // keepalive: an idempotent ack every second, so a connection the server already dropped
      // (its pings went unanswered during an outage) is reset as soon as a path exists again
      this.keepaliveTimer = setInterval(() => this.keepalive(), 1000);
      this.connect();
    }
    close() {
      this.closing = true;
      clearInterval(this.retransmitTimer); clearInterval(this.keepaliveTimer);
      if (this.ws) { try { this.ws.send(JSON.stringify({ t: 'leave' })); this.ws.close(); } catch (e) {} }
    }
    send(body) {
      const seq = this.nextSeq++;
      const frame = { t: 'msg', src: this.peer, inc: this.inc, seq, id: `${this.inc}:${seq}`, body };
      const out = { frame, lastSent: 0, attempts: 0 };
      this.unacked.set(seq, out);
      this.push(out);
      return frame.id;
    }
    push(out) {
      if (!out.firstSent) out.firstSent = performance.now();
      out.lastSent = performance.now();
      out.attempts += 1;
      out.frame.base = Math.min(...this.unacked.keys(), out.frame.seq);
      this.transmit(out.frame);
    }
    transmit(frame) {
      // from the join on: the server handles a socket's frames in order, so what waits goes out
      // right behind the join, in the same flight, not a round trip later (as lab.rtc's client)
      if (this.ws && (this.joined || this.joinSent) && !this.dead() && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(frame));
      }
    }
    resendUnacked() {
      for (const seq of [...this.unacked.keys()].sort((a, b) => a - b)) {
        const out = this.unacked.get(seq);
        out.attempts = 0;
        this.push(out);
      }
    }
    retransmit() {
      const now = performance.now();
      if (this.ws && this.joined && this.otherPresent && now - this.joinedAt > this.ackTimeout) {
        for (const out of this.unacked.values()) {
          if (now - Math.max(out.firstSent, this.joinedAt) > this.ackTimeout) {
            this.skipBackoff = true;
            this.drop(this.ws, `no ack within ${this.ackTimeout} ms`, 4002);
            break;
          }
        }
      }
      for (const seq of [...this.unacked.keys()].sort((a, b) => a - b)) {
        const out = this.unacked.get(seq);
        const rto = Math.min(this.maxRto, this.rto * 2 ** Math.max(0, out.attempts - 1));
        if (now - out.lastSent >= rto) this.push(out);
      }
    }
    keepalive() {
      // While the other peer is present, one small message a second (no "gen": both agent kinds
      // ignore it) keeps an acknowledgement due, so the ack timeout notices a dead socket even
      // when the call has nothing to say; otherwise TCP's backed-off retransmissions would keep
      // a socket that died during an outage looking alive for many seconds after it.
      if (this.joined && this.otherPresent && this.unacked.size === 0) this.send({ keepalive: ++this.keepalives });
    }
    dead() { return performance.now() < this.deadUntil; }
    beginOutage(durationS) {
      this.deadUntil = performance.now() + (durationS == null ? 1e12 : durationS * 1000);
      if (this.ws) this.drop(this.ws, 'signaling outage', 4503);
    }
    reconnectNow() {
      this.skipBackoff = true;
      if (this.ws) { this.drop(this.ws, 'network changed', 4001); return; }
      if (this.backoffTimer !== null) {   // waiting to retry: retry now, from the new network
        clearTimeout(this.backoffTimer);
        this.backoffTimer = null;
        this.scheduleReconnect();
      }
    }
    // Abandon a socket at once (a dead path never completes the closing handshake) and reconnect.
    drop(ws, reason, code = 1000) {
      if (this.ws !== ws) return;
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try { ws.close(code, reason.slice(0, 100)); } catch (e) {}
      const wasJoined = this.joined;
      this.ws = null; this.joined = false; this.joinSent = false;
      for (const out of this.unacked.values()) out.firstSent = 0;
      if (wasJoined) this.onState({ state: 'disconnected', reason });
      this.lastError = null;
      this.scheduleReconnect();
    }
    connect() {
      if (this.closing) return;
      const wait = this.deadUntil - performance.now();
      if (wait > 0) { setTimeout(() => this.connect(), Math.min(wait, 100)); return; }
      let ws;
      try { ws = new WebSocket(this.url); } catch (e) { this.lastError = String(e); this.scheduleReconnect(); return; }
      this.ws = ws; this.joined = false; this.joinSent = false;
      const openTimer = setTimeout(() => { if (!this.joined) this.drop(ws, 'open timeout'); }, 3000);
      ws.onopen = () => {
        ws.send(JSON.stringify({ t: 'join', room: this.room, peer: this.peer, inc: this.inc }));
        this.joinSent = true;
        this.resendUnacked();
      };
      ws.onmessage = ev => {
        if (this.dead()) return;
        let frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        if (!this.joined) {
          clearTimeout(openTimer);
          if (frame.t !== 'joined') { this.drop(ws, `server refused join: ${frame.reason || ev.data}`); return; }
          this.joined = true; this.attempt = 0; this.connects += 1;
          this.joinedAt = performance.now();
          this.otherPresent = (frame.present || []).length > 0;
          this.onState({ state: 'connected', connects: this.connects });
          return;
        }
        if (frame.t === 'msg') this.onMsg(frame);
        else if (frame.t === 'ack') this.onAck(frame);
        else if (frame.t === 'presence') {
          this.otherPresent = !!frame.present;
          if (frame.present) this.resendUnacked();
        }
      };
      ws.onerror = () => { this.lastError = this.lastError || 'websocket error'; };
      ws.onclose = ev => {
        clearTimeout(openTimer);
        this.drop(ws, this.lastError || `closed ${ev.code}`);
      };
    }
    scheduleReconnect() {
      if (this.closing) return;
      if (this.skipBackoff) { this.skipBackoff = false; this.attempt = 0; this.connect(); return; }
      const base = Math.min(2000, 100 * 2 ** this.attempt);
      this.attempt += 1;
      this.backoffTimer = setTimeout(() => { this.backoffTimer = null; this.connect(); },
                                     base * (1 + (Math.random() * 0.4 - 0.2)));
    }
    onAck(frame) {
      if (frame.for !== this.inc) return;
      for (const seq of [...this.unacked.keys()]) if (seq <= frame.ack) this.unacked.delete(seq);
    }
    onMsg(frame) {
      const src = String(frame.src), inc = String(frame.inc), seq = Number(frame.seq || 0);
      if (this.retired.has(`${src}/${inc}`)) return;
      let st = this.inbound.get(src);
      if (!st || st.inc !== inc) {
        if (st) this.retired.add(`${src}/${st.inc}`);
        st = { inc, delivered: 0, early: new Map() };
        this.inbound.set(src, st);
      }
      const base = Number(frame.base || 1);
      if (base - 1 > st.delivered) {
        st.delivered = base - 1;
        for (const s of [...st.early.keys()]) if (s <= st.delivered) st.early.delete(s);
        const next = st.early.get(st.delivered + 1);
        if (next) { st.early.delete(st.delivered + 1); this.deliverInOrder(st, next); }
      }
      if (seq <= st.delivered || st.early.has(seq)) { /* duplicate dropped */ }
      else if (seq === st.delivered + 1) this.deliverInOrder(st, frame);
      else st.early.set(seq, frame);
      this.transmit({ t: 'ack', src: this.peer, to: src, for: st.inc, ack: st.delivered });
    }
    deliverInOrder(st, frame) {
      for (;;) {
        st.delivered += 1;
        try { this.onMessage(frame.body); } catch (e) { log(`signaling consumer failed: ${e}`); }
        const next = st.early.get(st.delivered + 1);
        if (!next) return;
        st.early.delete(st.delivered + 1);
        frame = next;
      }
    }
  }

  // Signaling relayed by the orchestrator over the control pipes (the 'control' path).
  class ControlSignaling {
    constructor(onMessage) { this.onMessage = onMessage; }
    start() {}
    close() {}
    send(body) { emit('signal', { msg: body }); }
    deliver(body) { this.onMessage(body); }
  }

  // The agreed candidate_sent fields (all peer kinds): the agent adds `interface` (it looks the
  // address, or a reflexive candidate's base, up in the peer's namespace; null when unknown).
  function candidateFields(candidate, ufrag) {
    // a local candidate's generation by its address, for stats that carry no usernameFragment
    if (candidate.address && ufrag) session.localGenerations.set(`${candidate.address}:${candidate.port}`, generationOf(ufrag));
    return {
      ice_ufrag: ufrag, generation: generationOf(ufrag), type: candidate.type,
      address: candidate.address, port: candidate.port, protocol: candidate.protocol,
      related_address: candidate.relatedAddress, related_port: candidate.relatedPort,
      interface: null, end_of_candidates: false,
    };
  }

  // ---------------------------------------------------------------- perfect negotiation
  // The seeds' pattern (makingOffer / ignoreOffer, implicit rollback on the polite side, the
  // impolite side swallows the ignored offer's candidates), with lab.rtc.negotiation's log lines
  // and events. Inbound messages are handled one at a time, in order.
  class Negotiator {
    constructor(pc, send, polite, name, onSent) {
      this.pc = pc; this.sendRaw = send; this.polite = polite; this.name = name; this.onSent = onSent;
      this.role = polite ? 'polite' : 'impolite';
      this.session = hex(4); this.nid = 0; this.seen = new Set();
      this.makingOffer = false; this.ignoreOffer = false; this.ignoredUfrag = null;
      this.remoteRoles = new Map(); this.roleError = null;
      this.inbox = Promise.resolve(); this.closed = false;
      this.sentFor = new Set();   // ICE ufrags we have sent at least one candidate of
      this.answering = null;      // negotiation_id of the offer last applied (echoed in our answer)
    }
    event(event, facts = {}) { emit('negotiation', { event, role: this.role, ...facts }); }
    send(message) {
      this.nid += 1;
      this.sendRaw({ ...message, role: this.role, session: this.session, nid: `${this.session}:${this.nid}` });
    }
    start() {
      const pc = this.pc;
      pc.onnegotiationneeded = () => this.negotiate();
      pc.onicecandidate = ({ candidate }) => {
        if (this.closed) return;
        const ufrag = pc.localDescription ? ufragOf(pc.localDescription.sdp) : null;
        if (candidate) {
          const init = { ...candidate.toJSON(), usernameFragment: candidate.usernameFragment || ufrag };
          this.send({ candidate: init });
          this.sentFor.add(init.usernameFragment);
          emit('candidate_sent', candidateFields(candidate, init.usernameFragment));
        } else if (this.sentFor.has(ufrag)) {
          this.send({ candidate: { candidate: '', usernameFragment: ufrag } });
          emit('candidate_sent', { ice_ufrag: ufrag, generation: generationOf(ufrag), type: null, end_of_candidates: true });
        } else {
          // Chromium 156, answering right after an implicit rollback of its own restart offer,
          // signals end-of-candidates before the first candidate of the new generation: passing
          // that on would tell the other side the generation has no candidates at all
          log(`[${this.name}] end-of-candidates before any candidate of ${ufrag} -> not signaled`);
          emit('candidate_sent', { ice_ufrag: ufrag, generation: generationOf(ufrag), type: null,
                                   end_of_candidates: true, withheld: true });
        }
      };
      this.send({ hello: { name: this.name } });
    }
    close() { this.closed = true; this.pc.onnegotiationneeded = null; this.pc.onicecandidate = null; }
    sendDescription(desc) {
      // an offer's id is its message id; an answer echoes the id of the offer it answers
      const negotiationId = desc.type === 'offer' ? `${this.session}:${this.nid + 1}` : (this.answering || '');
      this.send({ description: { type: desc.type, sdp: desc.sdp }, negotiation_id: negotiationId });
      this.onSent(desc, negotiationId);
      this.event('description_sent', { type: desc.type });
    }
    async negotiate() {
      if (this.closed) return;
      const state = this.pc.signalingState;
      if (state !== 'stable') {
        log(`[${this.name}] negotiationneeded in signalingState ${state} -> deferred`);
        return;
      }
      try {
        this.makingOffer = true;
        log(`[${this.name}] negotiationneeded -> setLocalDescription(offer)`);
        this.event('negotiationneeded');
        await this.pc.setLocalDescription();
        this.sendDescription(this.pc.localDescription);
      } catch (err) {
        this.error('negotiationneeded', err);
      } finally {
        this.makingOffer = false;
      }
    }
    receive(message) {
      this.inbox = this.inbox.then(() => this.handle(message)).catch(err => this.error('inbound', err));
    }
    async handle(message) {
      if (this.closed) return;
      if (message.nid != null) {
        if (this.seen.has(message.nid)) return;
        this.seen.add(message.nid);
      }
      if ('hello' in message) this.onHello(message);
      else if ('description' in message) { this.checkRole(message); await this.onDescription(message.description, message.negotiation_id || null); }
      else if ('candidate' in message) await this.onCandidate(message.candidate || {});
    }
    async onDescription(description, negotiationId = null) {
      const pc = this.pc, kind = description.type;
      const makingOffer = this.makingOffer, state = pc.signalingState;
      const offerCollision = kind === 'offer' && (makingOffer || state !== 'stable');
      this.ignoreOffer = !this.polite && offerCollision;
      if (this.ignoreOffer) {
        this.ignoredUfrag = ufragOf(description.sdp);
        const why = makingOffer || state === 'have-local-offer' ? 'while making offer' : `in signalingState ${state}`;
        log(`[${this.name}] inbound offer ${why} -> ignoreOffer=true (kept ours)`);
        this.event('glare', { action: 'ignore_offer', signaling_state: state, making_offer: makingOffer });
        return;
      }
      try {
        await pc.setRemoteDescription(description);
      } catch (err) {
        this.error(`setRemoteDescription(${kind})`, err);
        if (kind === 'offer' && state === 'have-local-offer') {
          log(`[${this.name}] Failed to set remote offer sdp: Called in wrong state: have-local-offer -> peer accepted a colliding offer without rollback; add the offerCollision guard`);
        } else if (kind === 'answer' && state === 'stable') {
          log(`[${this.name}] answer arrived in signalingState stable -> stale or duplicate answer dropped`);
        }
        return;
      }
      if (kind === 'offer') this.answering = negotiationId;
      emit(`${kind}_received`, { ice_ufrag: ufragOf(description.sdp), gen: session.generation, negotiation_id: negotiationId });
      if (offerCollision) {
        log(`[${this.name}] inbound offer collision -> implicit rollback -> setRemoteDescription ok`);
        this.event('glare', { action: 'implicit_rollback', signaling_state: state, making_offer: makingOffer });
      } else {
        log(`[${this.name}] inbound ${kind} -> setRemoteDescription ok`);
        this.event('description_applied', { type: kind });
      }
      if (kind === 'answer') this.learnDtlsRole(description.sdp, true);
      if (kind === 'offer') {
        await this.answerKeepingDtlsRole(description.sdp);
        this.sendDescription(pc.localDescription);
        log(`[${this.name}] setLocalDescription(${pc.localDescription.type}) -> sent`);
      }
    }
    // The DTLS role (RFC 8842: a subsequent answer keeps the established one). Firefox ESR 153
    // answers every offer with a=setup:active, also a re-offer (actpass) when it is the DTLS
    // server; Chromium cannot swap roles mid-session and rejects that answer ("Failed to set SSL
    // role for the transport"). So the page answers with the role already held, as apps do.
    learnDtlsRole(sdp, remote) {
      const m = /^a=setup:(\S+)/m.exec(sdp || '');
      if (!m || m[1] === 'actpass') return;
      this.dtlsRole = remote ? (m[1] === 'active' ? 'passive' : 'active') : m[1];
    }
    async answerKeepingDtlsRole(offerSdp) {
      let answer = await this.pc.createAnswer();
      const own = (/^a=setup:(\S+)/m.exec(answer.sdp) || [])[1];
      const offered = (/^a=setup:(\S+)/m.exec(offerSdp || '') || [])[1];
      if (this.dtlsRole && own && own !== this.dtlsRole && offered === 'actpass') {
        log(`[${this.name}] answer said a=setup:${own} while DTLS ${this.dtlsRole} -> kept a=setup:${this.dtlsRole}`);
        this.event('dtls_role_kept', { answered: own, kept: this.dtlsRole });
        answer = { type: 'answer', sdp: answer.sdp.replace(/^a=setup:\S+/gm, `a=setup:${this.dtlsRole}`) };
      }
      await this.pc.setLocalDescription(answer);
      this.learnDtlsRole(this.pc.localDescription.sdp, false);
    }
    async onCandidate(init) {
      const ufrag = init.usernameFragment;
      if (this.ignoreOffer && (ufrag == null || ufrag === this.ignoredUfrag)) {
        this.swallow('it belongs to the ignored offer');
        return;
      }
      try {
        await this.pc.addIceCandidate(init.candidate ? init : { candidate: '', usernameFragment: ufrag || undefined });
      } catch (err) {
        if (this.ignoreOffer) this.swallow(`${err.name}: ${err.message}`);
        // glare: a candidate of a negotiation that was rolled back or ignored names a ufrag no
        // description holds any more; it was not added either way, and is not an error
        else if (ufrag && !this.remoteUfrags().includes(ufrag)) this.swallow(`stale ufrag ${ufrag}: ${err.name}: ${err.message}`);
        else this.error('addIceCandidate', err);
      }
    }
    remoteUfrags() {
      const sdps = [this.pc.currentRemoteDescription, this.pc.pendingRemoteDescription].filter(Boolean).map(d => d.sdp);
      return sdps.flatMap(sdp => [...sdp.matchAll(/^a=ice-ufrag:(\S+)/gm)].map(m => m[1]));
    }
    swallow(why) {
      log(`[${this.name}] candidate while ignoreOffer=true -> swallowed (${why})`);
      this.event('candidate_swallowed', { reason: why });
    }
    onHello(message) {
      const first = !this.remoteRoles.has(String(message.session));
      this.checkRole(message);
      if (first) {
        log(`[${this.name}] hello from ${(message.hello || {}).name} (${message.role})`);
        this.send({ hello: { name: this.name } });
      }
      if (this.onRemoteHello) this.onRemoteHello();
    }
    checkRole(message) {
      const remote = message.role, sess = String(message.session);
      if (remote !== 'polite' && remote !== 'impolite') return;
      const previous = this.remoteRoles.get(sess);
      this.remoteRoles.set(sess, remote);
      if (previous && previous !== remote) this.roleConflict(`remote peer changed its role mid-session (${previous} -> ${remote})`);
      else if (remote === this.role && this.roleError === null) this.roleConflict(`remote peer is also ${remote}`);
    }
    roleConflict(reason) {
      this.roleError = reason;
      log(`[${this.name}] role misconfiguration: ${reason}`);
      log(this.polite
        ? '[both] polite=true -> both peers polite; colliding offers are both rolled back and answers hit stable (InvalidStateError), fix role assignment'
        : '[both] ignoreOffer=true -> both peers impolite; negotiation deadlocks, fix role assignment');
      this.event('role_conflict', { action: 'reported', reason });
    }
    error(where, err) {
      log(`[${this.name}] ${where}: ${err && err.name}: ${err && err.message}`);
      this.event('error', { where, error_type: err && err.name, error: String(err && err.message) });
    }
  }

  // ---------------------------------------------------------------- restart policy
  // lab/runtime/agent/policy.py in JS: nothing fires before the call first connected; one
  // restart at a time; again after retry_s if not connected by then.
  class RestartPolicy {
    constructor(spec, active, perform) {
      this.spec = spec; this.perform = perform;
      this.active = active && (spec.trigger !== 'never' || spec.also_on_failed);
      this.wasConnected = false; this.connected = false; this.restarting = false;
      this.pending = null; this.retry = null;
    }
    onState(state) {
      if (state === 'connected' || state === 'completed') {
        this.wasConnected = this.connected = true; this.restarting = false;
        this.cancelPending(); this.cancelRetry();
        return;
      }
      this.connected = false;
      if (!this.active || !this.wasConnected) return;
      if (state === 'disconnected' && this.spec.trigger === 'disconnected') {
        this.schedule(this.spec.grace_s, 'disconnected', true);
      } else if (state === 'failed' && (['failed', 'disconnected'].includes(this.spec.trigger) || this.spec.also_on_failed)) {
        this.cancelPending();
        this.fire('failed');
      }
    }
    onNewPair() {
      // a new candidate pair was selected: a restart under way has completed (a make-before-
      // break restart never leaves 'connected', so the states alone would not tell; without
      // this, later network changes were ignored until the retry timer)
      if (this.restarting && this.connected) { this.restarting = false; this.cancelRetry(); }
    }
    onNetworkChange(settled = false) {
      // lab/runtime/agent/policy.py's rule: a settled event (the new default route and its
      // address already in place) restarts at once, and cuts short a settle wait under way
      if (this.active && this.wasConnected && this.spec.trigger === 'network-change') {
        if (settled) this.cancelPending();
        this.schedule(settled ? 0 : this.spec.network_settle_s, 'network-change', false);
      }
    }
    schedule(delayS, reason, cancelIfConnected) {
      if (this.restarting || this.pending !== null) return;
      if (delayS <= 0) { this.fire(reason); return; }
      this.pending = setTimeout(() => {
        this.pending = null;
        if (!(cancelIfConnected && this.connected)) this.fire(reason);
      }, delayS * 1000);
    }
    fire(reason, retry = false) {
      if (this.restarting && !retry) return;
      this.restarting = true;
      this.cancelRetry();
      Promise.resolve(this.perform(reason)).catch(err => log(`restart failed: ${err}`)).finally(() => {
        this.retry = setTimeout(() => { this.retry = null; if (!this.connected) this.fire('retry', true); }, this.spec.retry_s * 1000);
      });
    }
    cancelPending() { if (this.pending !== null) { clearTimeout(this.pending); this.pending = null; } }
    cancelRetry() { if (this.retry !== null) { clearTimeout(this.retry); this.retry = null; } }
    close() { this.cancelPending(); this.cancelRetry(); }
  }

  // ---------------------------------------------------------------- the session
  const session = {
    generation: 0, pc: null, negotiator: null, signaling: null, policy: null, stream: null,
    tappedReceivers: new Set(), lastPairKey: null, ufragGenerations: new Map(), statsTimer: null,
    localGenerations: new Map(), pairData: new Map(), lastPollTp: null,
  };

  function config() {
    return {
      iceServers: cfg.ice_servers.map(s => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined })),
      iceTransportPolicy: cfg.ice_transport_policy,
      bundlePolicy: 'max-bundle',
      // per-packet receive metadata (seq, SSRC, receive time); else RTCRtpScriptTransform
      ...(ENCODED_STREAMS ? { encodedInsertableStreams: true } : {}),
    };
  }

  function preferCodec(transceiver) {
    const caps = RTCRtpReceiver.getCapabilities('audio').codecs;
    const wanted = caps.filter(c => c.mimeType.toLowerCase() === `audio/${cfg.codec.toLowerCase()}`);
    if (wanted.length) {
      try { transceiver.setCodecPreferences(wanted); } catch (e) { log(`setCodecPreferences: ${e}`); }
    }
  }

  // With encodedInsertableStreams every sender and receiver must be given its streams; the
  // receive side reports each encoded frame (one audio RTP packet) with its RTP sequence number,
  // SSRC and the time its packet arrived (metadata.receiveTime, performance.now() timeline).
  // Chromium: encoded insertable streams (createEncodedStreams). Firefox has the standard
  // RTCRtpScriptTransform instead: the frames pass a worker (page/rtp-tap-worker.js), which posts
  // each one's metadata here; its time is the worker's, moved onto this page's timeline.
  const ENCODED_STREAMS = typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype;
  let tapWorker = null;
  function scriptTransformTap(receiver) {
    if (tapWorker === null) {
      tapWorker = new Worker('rtp-tap-worker.js');
      tapWorker.onmessage = ({ data }) => {
        const fields = { seq: data.seq, ssrc: data.ssrc };
        if (data.receive_time !== null) {
          emit('media_rx', fields, data.receive_time - performance.timeOrigin);
        } else {  // no receiveTime: when the frame reached the transform (after depacketizing)
          emit('media_rx', { ...fields, clock: 'transform' }, data.transform_time - performance.timeOrigin);
        }
      };
    }
    receiver.transform = new RTCRtpScriptTransform(tapWorker, { side: 'receiver' });
  }
  function passSender(sender) {
    if (!ENCODED_STREAMS) return;
    if (sender._icelabPassed) return;
    sender._icelabPassed = true;
    const { readable, writable } = sender.createEncodedStreams();
    readable.pipeTo(writable).catch(() => {});
  }
  function tapReceiver(receiver) {
    if (session.tappedReceivers.has(receiver)) return;
    session.tappedReceivers.add(receiver);
    if (!ENCODED_STREAMS) { scriptTransformTap(receiver); return; }
    const { readable, writable } = receiver.createEncodedStreams();
    const tap = new TransformStream({
      transform(frame, controller) {
        const m = frame.getMetadata();
        if (typeof m.receiveTime === 'number') {
          emit('media_rx', { seq: m.sequenceNumber, ssrc: m.synchronizationSource }, m.receiveTime);
        } else {  // a browser without receiveTime: the transform's own time (later, coarser)
          emit('media_rx', { seq: m.sequenceNumber, ssrc: m.synchronizationSource, clock: 'transform' });
        }
        controller.enqueue(frame);
      },
    });
    readable.pipeThrough(tap).pipeTo(writable).catch(() => {});
  }

  function addMedia(pc) {
    let transceiver;
    if (cfg.send_media) {
      transceiver = pc.addTransceiver(session.stream.getAudioTracks()[0], { direction: 'sendrecv', streams: [session.stream] });
    } else {
      transceiver = pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    passSender(transceiver.sender);
    tapReceiver(transceiver.receiver);
    preferCodec(transceiver);
  }

  function onTrack(pc, ev) {
    tapReceiver(ev.receiver);
    const transceiver = ev.transceiver;
    passSender(transceiver.sender);
    if (cfg.role === 'answerer' && cfg.send_media && !transceiver.sender.track) {
      transceiver.sender.replaceTrack(session.stream.getAudioTracks()[0]);
      if (transceiver.sender.setStreams) transceiver.sender.setStreams(session.stream);
      transceiver.direction = 'sendrecv';
      preferCodec(transceiver);
    }
    const audio = document.createElement('audio');   // playout, as an app would
    audio.srcObject = new MediaStream([ev.track]);
    audio.autoplay = true;
    document.body.appendChild(audio);
    audio.play().catch(() => {});
  }

  function newConnection() {
    const generation = session.generation;
    const pc = new RTCPeerConnection(config());
    session.pc = pc;
    session.lastPairKey = null;
    session.lastStatsPairKey = null;
    session.pairData = new Map();
    session.lastPollTp = null;
    pc.onsignalingstatechange = () => emit('signaling_state', { state: pc.signalingState, gen: generation });
    pc.onicegatheringstatechange = () => emit('gathering_state', { state: pc.iceGatheringState, gen: generation });
    pc.oniceconnectionstatechange = () => {
      emit('ice_state', { state: pc.iceConnectionState, gen: generation });
      if (pc === session.pc) session.policy.onState(pc.iceConnectionState);
      watchIceTransport(pc);
    };
    pc.onconnectionstatechange = () => {
      emit('connection_state', { state: pc.connectionState, gen: generation });
      if (pc === session.pc && ['connected', 'disconnected', 'failed'].includes(pc.connectionState)) {
        session.policy.onState(pc.connectionState);
      }
    };
    pc.ontrack = ev => onTrack(pc, ev);
    if (session.janus) { session.janus.begin(pc); return; }   // a leg through Janus (janus.js)
    const send = message => session.signaling.send({ ...message, gen: generation });
    const onSent = (desc, negotiationId) => emit(`${desc.type}_sent`,
      { ice_ufrag: ufragOf(desc.sdp), gen: generation, negotiation_id: negotiationId });
    const negotiator = new Negotiator(pc, send, cfg.polite, `peer-${cfg.role}`, onSent);
    session.negotiator = negotiator;
    negotiator.start();
    if (cfg.role !== 'offerer') return;
    if (generation === 0) { addMedia(pc); return; }   // -> negotiationneeded -> the first offer
    // After a full reconnect the other peer builds its new connection asynchronously and drops
    // messages of a generation it does not have yet: offer once its hello on this generation
    // arrived (or after 3 s)
    let offered = false;
    const offer = () => { if (!offered && !negotiator.closed) { offered = true; addMedia(pc); } };
    negotiator.onRemoteHello = offer;
    setTimeout(offer, 3000);
  }

  // ----- selected pair: RTCIceTransport's event (exact instant) and getStats polling
  function generationOf(ufrag) {
    if (!ufrag) return null;
    if (!session.ufragGenerations.has(ufrag)) session.ufragGenerations.set(ufrag, session.ufragGenerations.size);
    return session.ufragGenerations.get(ufrag);
  }
  // One source drives 'selected_pair': RTCIceTransport's selectedcandidatepairchange event where
  // the browser has it (the exact instant), else getStats polling (stats_interval_ms steps;
  // libwebrtc caches stats for 50 ms). getStats' view is always reported as 'stats_pair'.
  const PAIR_EVENT = typeof RTCIceTransport !== 'undefined' && 'onselectedcandidatepairchange' in RTCIceTransport.prototype;
  function pairInfo(local, remote, fromStats) {
    return {
      local_type: fromStats ? local.candidateType : local.type, local_address: `${local.address}:${local.port}`,
      remote_type: fromStats ? remote.candidateType : remote.type, remote_address: `${remote.address}:${remote.port}`,
      protocol: local.protocol, generation: localGeneration(local),
    };
  }
  // The ICE generation of a local candidate: its usernameFragment, else (Firefox's candidate
  // stats carry none) the generation it was gathered in, by its address; null when unknown. (The
  // current local description's ufrag would be wrong for the old pair right after a restart.)
  function localGeneration(local) {
    if (local.usernameFragment) return generationOf(local.usernameFragment);
    const known = session.localGenerations.get(`${local.address}:${local.port}`);
    return known === undefined ? null : known;
  }
  // Which candidate pair carries data, from each pair's byte counters (candidate-pair stats count
  // data packets, not connectivity checks): 'pair_rx' / 'pair_tx' with edge 'start' when a pair's
  // counter starts rising (the first packet came within window_ms before the event's time) and
  // edge 'stop' when it stops (the event's time is the pair's last packet, from
  // lastPacketReceived/SentTimestamp where the browser has it, else the last poll that saw data).
  // lab.experiment.metrics attributes every received unit to the pair receiving data at its time.
  // A pair missing from the previous report did not exist then (a report lists every pair of the
  // connection), so its data began after that report; a pair that leaves the report (Firefox drops
  // the old generation's pairs at a restart) stopped at its last data.
  function trackPairData(report, stat, tp) {
    const local = report.get(stat.localCandidateId), remote = report.get(stat.remoteCandidateId);
    if (!local || !remote) return;
    let state = session.pairData.get(stat.id);
    if (state) state.seenAt = tp;
    if (state && state.timestamp === stat.timestamp) return;   // a cached report: nothing new
    const since = session.lastPollTp;
    if (!state) {
      state = { timestamp: stat.timestamp, seenAt: tp, info: null,
                rx: { count: 0, active: false, lastTp: null }, tx: { count: 0, active: false, lastTp: null } };
      session.pairData.set(stat.id, state);
    }
    state.timestamp = stat.timestamp;
    state.info = pairInfo(local, remote, true);
    for (const [direction, count, last] of [['rx', stat.bytesReceived, stat.lastPacketReceivedTimestamp],
                                            ['tx', stat.bytesSent, stat.lastPacketSentTimestamp]]) {
      if (typeof count !== 'number') continue;
      const own = state[direction];
      // the last packet on the pair, on the page's clock (the stat's timestamp and its last-packet
      // timestamp share a clock; a value more than a second old is of another clock: unused)
      const age = typeof last === 'number' && last > 0 ? stat.timestamp - last : null;
      const lastTp = age !== null && age >= 0 && age <= 1000 ? tp - age : null;
      if (count > own.count) {
        if (!own.active) {
          const upper = lastTp !== null ? Math.min(tp, lastTp) : tp;
          emit(`pair_${direction}`, { edge: 'start', gen: session.generation, window_ms: since !== null ? Math.max(0, upper - since) : null,
                                      bytes: count - own.count, ...state.info }, upper);
        }
        own.active = true;
        own.lastTp = lastTp !== null ? Math.min(tp, lastTp) : tp;
      } else if (own.active) {
        own.active = false;
        emit(`pair_${direction}`, { edge: 'stop', gen: session.generation, ...state.info }, lastTp !== null ? Math.min(tp, lastTp) : own.lastTp);
      }
      own.count = count;
    }
  }
  function dropVanishedPairs(tp) {
    for (const [id, state] of session.pairData) {
      if (state.seenAt === tp) continue;
      session.pairData.delete(id);
      for (const direction of ['rx', 'tx']) {
        const own = state[direction];
        if (own.active && state.info) emit(`pair_${direction}`, { edge: 'stop', gen: session.generation, vanished: true, ...state.info }, own.lastTp);
      }
    }
  }
  function reportPair(pc, local, remote, source, tp) {
    if (pc !== session.pc || !local || !remote) return;
    const info = pairInfo(local, remote, source === 'getStats');
    const key = `${info.local_address}|${info.remote_address}|${info.generation}`;
    if (source === 'getStats') {
      if (key !== session.lastStatsPairKey) {
        session.lastStatsPairKey = key;
        emit('stats_pair', { gen: session.generation, ...info }, tp);
      }
      if (PAIR_EVENT) return;
    }
    if (key === session.lastPairKey) return;
    const previous = session.lastPair;
    session.lastPairKey = key;
    session.lastPair = info;
    emit('selected_pair', { gen: session.generation, previous_generation: previous ? previous.generation : null,
                            source, ...info }, tp);
    if (session.policy) session.policy.onNewPair();
  }
  function watchIceTransport(pc) {
    const sender = pc.getSenders()[0];
    const ice = sender && sender.transport && sender.transport.iceTransport;
    if (!ice || ice._icelabWatched) return;
    ice._icelabWatched = true;
    const dtls = sender.transport;   // its state tells a transport that will never send again
    dtls.addEventListener('statechange', () => emit('dtls_state', { state: dtls.state, gen: session.generation }));
    ice.onselectedcandidatepairchange = () => {
      const pair = ice.getSelectedCandidatePair();
      if (pair) reportPair(pc, pair.local, pair.remote, 'event', performance.now());
    };
  }
  async function pollStats() {
    const pc = session.pc;
    if (!pc || pc.connectionState === 'closed') return;
    let report;
    try { report = await pc.getStats(); } catch (e) { return; }
    const tp = performance.now();
    let transport = null, flagged = null;
    const inbound = [], outbound = [];
    report.forEach(s => {
      if (s.type === 'transport') transport = s;
      else if (s.type === 'inbound-rtp') inbound.push(s);
      else if (s.type === 'outbound-rtp') outbound.push(s);
      else if (s.type === 'candidate-pair' && s.selected === true) flagged = s;  // Firefox: no transport stats
    });
    if (pc === session.pc) {
      report.forEach(s => { if (s.type === 'candidate-pair') trackPairData(report, s, tp); });
      dropVanishedPairs(tp);
      session.lastPollTp = tp;
    }
    const pairId = transport && transport.selectedCandidatePairId ? transport.selectedCandidatePairId : (flagged && flagged.id);
    if (pairId) {
      const pair = report.get(pairId);
      const local = pair && report.get(pair.localCandidateId), remote = pair && report.get(pair.remoteCandidateId);
      if (local && remote) reportPair(pc, local, remote, 'getStats', tp);
    }
    session.statsRounds = (session.statsRounds || 0) + 1;
    if (session.statsRounds % 10 === 0) {
      for (const s of inbound) {
        emit('media_stats', {
          ssrc: s.ssrc, kind_of_media: s.kind, packets_received: s.packetsReceived, packets_lost: s.packetsLost,
          frames_decoded: s.framesDecoded, samples_received: s.totalSamplesReceived, concealed_samples: s.concealedSamples,
          last_packet_ms: s.lastPacketReceivedTimestamp != null ? s.lastPacketReceivedTimestamp - performance.timeOrigin : null,
        }, tp);
      }
      for (const s of outbound) {
        emit('media_stats', { direction: 'outbound', ssrc: s.ssrc, kind_of_media: s.kind, packets_sent: s.packetsSent }, tp);
      }
    }
  }

  // ----- restart actions
  async function performRestart(reason) {
    const action = cfg.policy.action;
    emit('restart', { action, reason, gen: session.generation });
    if (session.janus) { await session.janus.restart(session.pc); return; }   // the leg's own restart
    if (action === 'full-reconnect') { fullReconnect(true); return; }
    const pc = session.pc;
    if (action === 'restart-ice') { pc.restartIce(); return; }
    if (action === 'continual-gathering') {
      // a web page cannot make the browser gather on a new interface without a restart:
      // nothing on the network change itself, restartIce() as the backstop (failed, retry)
      if (reason !== 'network-change') pc.restartIce();
      return;
    }
    // the legacy path: an offer made with iceRestart: true, sent by the app itself
    if (pc.signalingState !== 'stable') { pc.restartIce(); return; }
    const offer = await pc.createOffer({ iceRestart: true });
    await pc.setLocalDescription(offer);
    session.negotiator.sendDescription(pc.localDescription);
  }

  function fullReconnect(announce, generation = null) {
    session.generation = generation !== null ? generation : session.generation + 1;
    if (announce) session.signaling.send({ reconnect: session.generation });
    const old = session.pc;
    session.negotiator.close();
    session.lastPair = null;
    newConnection();
    emit('pc_replaced', { gen: session.generation });
    if (old) setTimeout(() => old.close(), 0);
  }

  function onSignal(message) {
    if ('reconnect' in message) {
      const generation = Number(message.reconnect);
      if (generation > session.generation) {
        emit('restart', { action: 'full-reconnect', reason: 'remote', gen: generation, remote: true });
        fullReconnect(false, generation);
      }
      return;
    }
    if (message.gen === session.generation && session.negotiator) {
      const inner = { ...message };
      delete inner.gen;
      session.negotiator.receive(inner);
    }
  }

  // Like a web app: the browser's own network events ('online', Network Information 'change')
  // drop the signaling socket at once so it reconnects from the new network.
  function watchBrowserNetwork() {
    const onChange = what => () => {
      emit('browser_network', { event: what, online: navigator.onLine,
                                type: navigator.connection ? navigator.connection.type : null });
      if (session.signaling && session.signaling.reconnectNow) session.signaling.reconnectNow();
    };
    window.addEventListener('online', onChange('online'));
    window.addEventListener('offline', onChange('offline'));
    if (navigator.connection) navigator.connection.addEventListener('change', onChange('connection-change'));
  }

  async function start(config_) {
    cfg = config_;
    session.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    session.policy = new RestartPolicy(cfg.policy, cfg.restarts, performRestart);
    if (cfg.sfu) {   // no signaling server: the leg talks to Janus (janus.js); a network change reconnects it
      session.janus = new window.IcelabJanus.JanusLeg(cfg.sfu, {
        emit, ufragOf, candidateFields, addMedia, pc: () => session.pc, generation: () => session.generation });
      session.signaling = session.janus;
    } else if (cfg.signaling.path === 'control') {
      session.signaling = new ControlSignaling(onSignal);
    } else {
      session.signaling = new LabSignaling(cfg.signaling.url, cfg.signaling.room, cfg.role, onSignal,
        s => emit('signaling_channel', { state: s.state, reason: s.reason || null }));
    }
    if (!session.janus) session.signaling.start();
    watchBrowserNetwork();
    newConnection();
    session.statsTimer = setInterval(pollStats, cfg.stats_interval_ms || 50);
    return { userAgent: navigator.userAgent };
  }

  function command(cmd) {
    switch (cmd.cmd) {
      case 'signal':
        if (session.signaling instanceof ControlSignaling) session.signaling.deliver(cmd.msg);
        break;
      case 'signaling_outage':
        if (session.signaling.beginOutage) {
          session.signaling.beginOutage(cmd.duration_s);
          emit('signaling_outage', { duration_s: cmd.duration_s });
        }
        break;
      case 'restart':
        performRestart(String(cmd.reason || 'orchestrator')).catch(err => log(`restart failed: ${err}`));
        break;
      case 'network_change':
        // the agent's netlink watcher, as an app's OS would tell it (lab/runtime/chromium/network.py):
        // the socket moves at once when the route to the server left its address, under every
        // policy; the policy hears of the change when it watches the network (its own settle time)
        if (cmd.signaling && session.signaling.reconnectNow) session.signaling.reconnectNow();
        if (cmd.policy !== false) session.policy.onNetworkChange(cmd.settled === true);
        break;
      default:
        break;
    }
  }

  function stop() {
    clearInterval(session.statsTimer);
    if (session.policy) session.policy.close();
    if (session.negotiator) session.negotiator.close();
    if (session.pc) session.pc.close();
    if (session.signaling) session.signaling.close();
    if (session.stream) session.stream.getTracks().forEach(t => t.stop());
    flush();
  }

  return { start, command, stop, flush };
})();
window.icelab = icelab;
