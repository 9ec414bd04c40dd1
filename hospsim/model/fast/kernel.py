"""The compiled event loop: the reference engine (:mod:`hospsim.model.engine`) handler by handler.

Every handler here mirrors one of the reference engine's, in the same order of operations and
with the same floating-point arithmetic, so the same patients meet the same fates bit for bit
(``tests/test_lockstep.py`` checks it over generated configs). Handlers are not annotated: numba
types them from the state's fields. The state is a namedtuple of
arrays (:class:`~hospsim.model.fast.state.State`); scalars live in ``si`` (integers) and ``sf``
(floats) at the indices below, so a call can stop between two events and be resumed: the kernel
returns to Python when a plan gate may open at a midnight, when the visit or cancellation logs
are full, or when a patient is about to need a later visit's numbers not drawn yet.

Events are ordered as the reference :class:`~hospsim.model.scheduler.EventQueue` orders them:
(time, priority, order of scheduling). Those of the current half hour are in a binary heap of
three arrays (time, priority and order packed in one integer key, kind and patient packed in one
integer payload); later ones wait in a calendar, a list per half hour, and enter the heap when
their half hour comes (a heap of the next few dozen events instead of every pending one: pops
sift through 4 or 5 levels instead of 12). The order is a total one (the order of scheduling
breaks every tie), so how the events are kept cannot change which comes first. The one pending
arrival waits beside the heap with the key it would have in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numba.core import config as numba_config

from ..records import ACUTE_LEVELS, LEVELS_PER_SERVICE
from ..records import BOARDING as LV_BOARDING
from ..records import DELAYED as LV_DELAYED
from ..records import EMERGENCY_OCCUPIED as LV_EMERGENCY_OCCUPIED
from ..records import OCCUPIED as LV_OCCUPIED
from ..records import SERVICE_BLOCKED as LV_BLOCKED
from ..records import SERVICE_OCCUPIED as LV_PLACES
from ..records import SERVICE_QUEUE as LV_QUEUE

# Cached on disk, so a fresh worker does not recompile. No reference counting: the kernel only
# reads and writes arrays it is given (numba's runtime would otherwise count every array each
# time a handler takes it from the state, which cost half the run time). ``_nrt`` is a numba
# flag, hence numba's version bound in pyproject.toml.
JIT: dict[str, Any] = {"cache": True, "_nrt": False}
# Handlers and helpers are inlined into the loop by LLVM: a call would copy the whole state (a
# struct of ~100 arrays) each time, which tripled the run time. (numba's own inline="always"
# gives the same speed but compiles four times longer.)
INLINED: dict[str, Any] = {**JIT, "forceinline": True}

# --- scalar slots -----------------------------------------------------------------------------
# si (int64)
ORDER, N_EVENTS, PROCESSED, N_VISITS, N_CANCEL = 0, 1, 2, 3, 4
BEDS, BED_CAP, DELAYED = 5, 6, 7
B_HEAD, B_TAIL, B_COUNT = 8, 9, 10
SORTED_DAY, KEPT_POS, KEPT_LEN = 11, 12, 13
EL_NEXT_REF, EL_NEXT, EL_HEAP_N, EL_REBOOK = 14, 15, 16, 17
PENDING_MIDNIGHT, NEED_DEPTH, NEED_SERVICE = 18, 19, 20
NEXT_ARRIVAL, NEXT_ARRIVAL_KEY = 21, 22
CUR_BUCKET, FREE_NODE, NODES_USED = 23, 24, 25
N_SI = 26
# sf (float64)
NOW, BED_AREA, BED_SINCE, DEL_AREA, DEL_SINCE, NEXT_ARRIVAL_TIME = 0, 1, 2, 3, 4, 5
OCC_EXCESS, CORE_BEDS_TODAY, ESCALATION_TODAY = 6, 7, 8
N_SF = 9

# --- what a call returns --------------------------------------------------------------------------
DONE, GATES, GROW_VISITS, GROW_CANCEL, NEED_ROWS = 0, 1, 2, 3, 4

# --- event kinds (payload = patient * KINDS + kind) ------------------------------------------------
MIDNIGHT, ARRIVAL, ELECTIVE_ADMISSION, WAIT_LIMIT, FIT, READY, STAY_END = 0, 1, 2, 3, 4, 5, 6
KINDS = 8
# A fit event's payload also carries its patient's discharge service (+ 1, 0: home) from these bits
# on, read when it was admitted (when the patient's entries are in cache): neither the fit event
# nor its prefetch loads it from the patient's record, mostly out of cache by then.
SERVICE_SHIFT = np.int64(56)
PATIENT_KIND = (np.int64(1) << SERVICE_SHIFT) - np.int64(1)  # the bits of patient * KINDS + kind
URGENT, NORMAL = 0, 1
PRIORITY_SHIFT = np.int64(1) << np.int64(56)  # key = priority * shift + order of scheduling
BUCKETS_PER_DAY = 48.0  # the calendar of later events: half hours (about 20 events each in the default footprint)

# Outcomes and visit origins: as in hospsim.model.records.
WAITING, ADMITTED, AVOIDED, REFUSED, ON_LIST, NOT_ARRIVED, TRANSFERRED = 0, 1, 2, 3, 4, 5, 6
FROM_ACUTE, FROM_ARRIVAL = -1, -2

# --- condition kinds of plan gates ---------------------------------------------------------------
CAPACITY_AT_LEAST, OCCUPANCY_AT_MOST, DELAYED_AT_MOST = 0, 1, 2


# === indices known not to be negative ============================================================
# numba wraps a negative index around (a[-1] is the last element): at every access by an index
# that LLVM cannot prove non-negative, that costs a reload of the array's length and two more
# instructions. An index with its sign bit cleared is provably non-negative (one AND instead);
# only indices that are never negative (patients, visits, days, heap positions...) go through it,
# so it changes no value.
NONNEG = np.int64(0x7FFF_FFFF_FFFF_FFFF)


@njit(**INLINED)
def _nn(i):
    return i & NONNEG


# === prefetching =================================================================================
# A hint to the processor to bring in the line of ``a[i]`` (or ``a[i, j]``) for a later read or
# write (LLVM's prefetch: no effect on any value, never faults). The per-patient entries of a
# random patient (its stays, its record) are mostly out of cache: the calendar asks for those of
# each event as its half hour's events enter the heap, a few dozen events before its handler runs.

if getattr(numba_config, "DISABLE_JIT", False):  # the kernel run as plain Python (the lockstep's coverage run)

    def _pf_read(a, i):
        pass

    def _pf_write(a, i):
        pass

    def _pf_read2(a, i, j):
        pass

else:
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    def _prefetch_codegen(write):
        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, list(args[1:]))
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            # (address, write, locality 3: keep in every cache level, data)
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(int(write)), i32(3), i32(1)])
            return context.get_dummy_value()

        return codegen

    @intrinsic
    def _pf_read(typingctx, a, i):
        return types.void(a, i), _prefetch_codegen(False)

    @intrinsic
    def _pf_write(typingctx, a, i):
        return types.void(a, i), _prefetch_codegen(True)

    @intrinsic
    def _pf_read2(typingctx, a, i, j):
        return types.void(a, i, j), _prefetch_codegen(False)


# === event heap ===================================================================================


@njit(**INLINED)
def _before(t1: float, k1: int, t2: float, k2: int) -> bool:
    return t1 < t2 or (t1 == t2 and k1 < k2)


@njit(**INLINED)
def _heap_push(st, time, key, payload):
    t, k, p = st.ev_time, st.ev_key, st.ev_payload
    si = st.si
    i = _nn(si[N_EVENTS])
    si[N_EVENTS] = i + 1
    while i > 0:
        parent = _nn((i - 1) >> 1)
        if _before(time, key, t[parent], k[parent]):
            t[i], k[i], p[i] = t[parent], k[parent], p[parent]
            i = parent
        else:
            break
    t[i], k[i], p[i] = time, key, payload


@njit(**INLINED)
def _bucket(st, time):
    """The calendar bucket of a time (a half hour; times at or past the last bucket's start go in it)."""
    last = st.far_head.size - 1
    b = time * BUCKETS_PER_DAY
    if not b < last:
        return last
    return np.int64(b)


@njit(**INLINED)
def _place(st, time, key, payload):
    """An event into the heap if it falls in the current bucket (or before), else onto its
    bucket's list: the heap holds every event of the buckets up to the current one, so its first
    is the first of all."""
    si = st.si
    b = _bucket(st, time)
    if b <= si[CUR_BUCKET]:
        _heap_push(st, time, key, payload)
        return
    node = si[FREE_NODE]
    if node >= 0:
        si[FREE_NODE] = st.fn_next[node]
    else:
        node = _nn(si[NODES_USED])
        si[NODES_USED] = node + 1
    node = _nn(node)
    st.fn_time[node], st.fn_key[node], st.fn_payload[node] = time, key, payload
    st.fn_next[node] = st.far_head[b]
    st.far_head[b] = node


@njit(**INLINED)
def _prefetch_for(st, payload):
    """Ask for what the event's handler will touch of its patient (hints only: an entry asked for
    in vain, as a ready event's stay of a later visit, costs nothing but the hint)."""
    payload = _nn(payload)
    kind, pid = (payload & PATIENT_KIND) % KINDS, (payload & PATIENT_KIND) // KINDS
    if kind == FIT:  # _on_fit: its record and a first visit's assessment
        _pf_write(st.fit, pid)
        _pf_write(st.leave, pid)
        s = (payload >> SERVICE_SHIFT) - 1
        if s >= 0:
            _pf_read2(st.assessment, s, pid)
            _pf_read(st.arrival_day, pid)
    elif kind == READY:  # _on_ready of a first visit: its record and its stay in the service
        _pf_read(st.visit, pid)
        s = st.service[pid]
        if s >= 0:
            _pf_read2(st.service_los, s, pid)
        _pf_write(st.ready, pid)
        _pf_write(st.holding, pid)
        _pf_write(st.s_start, pid)
    elif kind == STAY_END:
        _pf_read(st.visit, pid)
        _pf_write(st.s_end, pid)
    elif kind == ELECTIVE_ADMISSION:
        _pf_read(st.acute_los, pid)
        _pf_read(st.service, pid)
        _pf_write(st.admit, pid)


@njit(**INLINED)
def _refill(st):
    """With the heap empty: move on to the next bucket with events and put them in the heap."""
    si = st.si
    last = st.far_head.size - 1
    while si[N_EVENTS] == 0 and si[CUR_BUCKET] < last:
        b = _nn(si[CUR_BUCKET] + 1)
        si[CUR_BUCKET] = b
        node = st.far_head[b]
        st.far_head[b] = -1
        while node >= 0:
            node = _nn(node)
            nxt = st.fn_next[node]
            payload = st.fn_payload[node]
            _prefetch_for(st, payload)
            _heap_push(st, st.fn_time[node], st.fn_key[node], payload)
            st.fn_next[node] = si[FREE_NODE]
            si[FREE_NODE] = node
            node = nxt


@njit(**INLINED)
def push(st, time, priority, kind, pid):
    """Schedule an event (the reference queue's ``at``: ``time`` is absolute)."""
    _push_payload(st, time, priority, pid * KINDS + kind)


@njit(**INLINED)
def _push_payload(st, time, priority, payload):
    """Schedule an event with its payload made (a fit event's carries more: fit_payload)."""
    si = st.si
    si[ORDER] += 1
    _place(st, time, priority * PRIORITY_SHIFT + si[ORDER], payload)


@njit(**INLINED)
def fit_payload(pid, s):
    """The payload of a fit event of patient ``pid``, whose discharge service is ``s`` (-1: home)."""
    return pid * KINDS + FIT + ((s + 1) << SERVICE_SHIFT)


@njit(**JIT)
def place_events(st, times, keys, payloads):
    """Events already keyed (a census start's, taken over from the reference queue)."""
    for i in range(times.size):
        _place(st, times[i], keys[i], payloads[i])


@njit(**INLINED)
def schedule_arrival(st, time, pid):
    """Schedule the next arrival: at most one is pending (each arrival schedules the next), so it
    waits beside the heap, keyed as it would be in it - half the events never enter the heap."""
    si = st.si
    si[ORDER] += 1
    si[NEXT_ARRIVAL] = pid
    si[NEXT_ARRIVAL_KEY] = NORMAL * PRIORITY_SHIFT + si[ORDER]
    st.sf[NEXT_ARRIVAL_TIME] = time


@njit(**INLINED)
def _arrival_first(st):
    """Is the pending arrival (if any) the next event, before the heap's first?"""
    si = st.si
    if si[NEXT_ARRIVAL] < 0:
        return False
    if si[N_EVENTS] == 0:
        return True
    return _before(st.sf[NEXT_ARRIVAL_TIME], si[NEXT_ARRIVAL_KEY], st.ev_time[0], st.ev_key[0])


@njit(**INLINED)
def pop(st):
    """Remove the first event; returns its time and payload."""
    si = st.si
    t, k, p = st.ev_time, st.ev_key, st.ev_payload
    time, payload = t[0], p[0]
    n = _nn(si[N_EVENTS] - 1)
    si[N_EVENTS] = n
    if n > 0:
        lt, lk, lp = t[n], k[n], p[n]
        i = 0
        while True:
            c = _nn(2 * i + 1)
            if c >= n:
                break
            if c + 1 < n and _before(t[c + 1], k[c + 1], t[c], k[c]):
                c += 1
            if _before(t[c], k[c], lt, lk):
                t[i], k[i], p[i] = t[c], k[c], p[c]
                i = c
            else:
                break
        t[i], k[i], p[i] = lt, lk, lp
    return time, payload


# === levels (beds occupied, patients delayed) =======================================================


@njit(**INLINED)
def _level_change(st, count, area, since, delta, now):
    """The reference Level.change of the level whose slots are ``count`` (si), ``area`` and
    ``since`` (sf)."""
    si, sf = st.si, st.sf
    sf[area] += si[count] * (now - sf[since])
    sf[since] = now
    si[count] += delta


@njit(**INLINED)
def _close_level(st, count, area, since, now):
    """The reference Level.close_day: the integral since the last midnight; starts the next day."""
    si, sf = st.si, st.sf
    day_area = sf[area] + si[count] * (now - sf[since])
    sf[area] = 0.0
    sf[since] = now
    return day_area


@njit(**INLINED)
def _beds_change(st, delta, now):
    _level_change(st, BEDS, BED_AREA, BED_SINCE, delta, now)


@njit(**INLINED)
def _delayed_change(st, delta, now):
    _level_change(st, DELAYED, DEL_AREA, DEL_SINCE, delta, now)


@njit(**INLINED)
def _close_days(st, day, now):
    """The finished day's integrals (the reference GateBook.record_day)."""
    st.occupied_bed_days[day] = _close_level(st, BEDS, BED_AREA, BED_SINCE, now)
    st.delayed_bed_days[day] = _close_level(st, DELAYED, DEL_AREA, DEL_SINCE, now)


@njit(**INLINED)
def _has_free_bed(st):
    return st.si[BEDS] < st.si[BED_CAP]


# === the daily levels (records.DailyLevels), swept as they change ===================================
# Each level's time integral, highest level held and level at midnight, day by day: what
# array_kernels.level_sweep computes from the level's sorted interval starts and ends, with the
# same terms added in the same order. Events at one time may come here in another order than the
# sweep's (ends before starts), but what lies between them has no length: its terms are +0,
# which leave a sum unchanged, and a peak counts only levels held for a positive time.


@njit(**INLINED)
def _level_step(st, m, delta, now):
    """Level ``m`` changes by ``delta`` at ``now``: the segment since its last change is added."""
    m = _nn(m)
    level = st.lv_level[m]
    dur = now - st.lv_since[m]
    st.lv_area[m] += level * dur
    if dur > 0.0 and level > st.lv_top[m]:
        st.lv_top[m] = level
    if m == LV_OCCUPIED:  # occupied beds over the core beds, at most the escalation beds open
        st.sf[OCC_EXCESS] += min(max(level - st.sf[CORE_BEDS_TODAY], 0.0), st.sf[ESCALATION_TODAY]) * dur
    st.lv_level[m] = level + delta
    st.lv_since[m] = now


@njit(**INLINED)
def _log_start(st, level, now):
    _level_step(st, level, 1.0, now)


@njit(**INLINED)
def _log_end(st, level, now):
    _level_step(st, level, -1.0, now)


@njit(**INLINED)
def _close_levels(st, day, bound):
    """Day ``day`` ends at ``bound``: its last segments, then its values; the next day starts."""
    day = _nn(day)
    for m in range(st.lv_level.size):
        _level_step(st, m, 0.0, bound)
        st.lv_mean[m, day] = st.lv_area[m]
        st.lv_peak[m, day] = st.lv_top[m]
        st.lv_midnight[m, day] = st.lv_level[m]
        st.lv_area[m] = 0.0
        st.lv_top[m] = -np.inf
    st.lv_excess[day] = st.sf[OCC_EXCESS]
    st.sf[OCC_EXCESS] = 0.0


@njit(**INLINED)
def _levels_open_day(st, day):
    """The day's threshold and cap of the occupied beds' excess (its capacities, gates opened)."""
    st.sf[CORE_BEDS_TODAY] = float(st.core_beds[day])
    st.sf[ESCALATION_TODAY] = float(st.escalation_beds[day])


@njit(**INLINED)
def _service_level(s, which):
    return ACUTE_LEVELS + LEVELS_PER_SERVICE * s + which


# === queues: boarding (doubly linked, a wait limit takes a patient out anywhere) and services =====


@njit(**INLINED)
def _board(st, pid):
    si = st.si
    st.b_prev[pid] = si[B_TAIL]
    st.b_next[pid] = -1
    if si[B_TAIL] >= 0:
        st.b_next[si[B_TAIL]] = pid
    else:
        si[B_HEAD] = pid
    si[B_TAIL] = pid
    si[B_COUNT] += 1


@njit(**INLINED)
def _unboard(st, pid):
    si = st.si
    prev, nxt = st.b_prev[pid], st.b_next[pid]
    if prev >= 0:
        st.b_next[prev] = nxt
    else:
        si[B_HEAD] = nxt
    if nxt >= 0:
        st.b_prev[nxt] = prev
    else:
        si[B_TAIL] = prev
    si[B_COUNT] -= 1


@njit(**INLINED)
def _queue(st, s, pid):
    st.q_next[pid] = -1
    if st.q_tail[s] >= 0:
        st.q_next[st.q_tail[s]] = pid
    else:
        st.q_head[s] = pid
    st.q_tail[s] = pid


@njit(**INLINED)
def _dequeue(st, s):
    pid = _nn(st.q_head[s])
    st.q_head[s] = st.q_next[pid]
    if st.q_head[s] < 0:
        st.q_tail[s] = -1
    return pid


# === patients ========================================================================================


@njit(**INLINED)
def _bisect_right(row, u):
    """Entries of a cumulative mix (padded with +inf) at most ``u``: the reference bisect_right."""
    i = 0
    while i < row.size and row[i] <= u:
        i += 1
    return i


@njit(**INLINED)
def resolve(st, pid):
    """LOS and discharge pathway by the plan of the arrival day."""
    d, g = _nn(st.arrival_day[pid]), _nn(st.group[pid])
    st.acute_los[pid] = st.base_los[pid] * st.los_multiplier[g, d]
    st.service[pid] = st.pathway_service[g, _bisect_right(st.pathway_cumulative[g, d], st.u_pathway[pid])]


@njit(**INLINED)
def _admit(st, pid, boarded):
    """``boarded``: an emergency that boarded before this instant (else one admitted as it
    arrives, whose boarding's +1 and -1 at one instant are one step of the level: the same terms,
    a segment of no length adding +0)."""
    now = st.sf[NOW]
    _beds_change(st, 1, now)
    st.outcome[pid] = ADMITTED
    st.admit[pid] = now
    _log_start(st, LV_OCCUPIED, now)
    if pid < st.n_emergencies:
        _log_start(st, LV_EMERGENCY_OCCUPIED, now)
        if boarded:
            _log_end(st, LV_BOARDING, now)
        else:
            _level_step(st, LV_BOARDING, 0.0, now)
    _push_payload(st, now + st.acute_los[pid], NORMAL, fit_payload(pid, st.service[pid]))


@njit(**INLINED)
def _admit_boarders(st):
    si = st.si
    while si[B_COUNT] > 0 and _has_free_bed(st):
        pid = _nn(si[B_HEAD])
        _unboard(st, pid)
        _admit(st, pid, True)


@njit(**INLINED)
def _free_bed(st, pid, now, fit_now):
    """``fit_now``: the patient became fit at this instant (its delayed level's +1 and -1 at one
    instant are one step: see _admit)."""
    _beds_change(st, -1, now)
    st.leave[pid] = now
    _log_end(st, LV_OCCUPIED, now)
    if pid < st.n_emergencies:
        _log_end(st, LV_EMERGENCY_OCCUPIED, now)
    if fit_now:
        _level_step(st, LV_DELAYED, 0.0, now)
    else:
        _log_end(st, LV_DELAYED, now)  # a bed is freed only once its patient is fit
    _admit_boarders(st)


@njit(**INLINED)
def _new_visit(st, pid, s, origin, depth, now):
    si = st.si
    v = _nn(si[N_VISITS])
    si[N_VISITS] = v + 1
    st.v_patient[v], st.v_service[v], st.v_origin[v], st.v_depth[v] = pid, s, origin, depth
    st.v_referred[v] = now
    st.v_ready[v] = np.nan
    st.v_start[v] = np.nan
    st.v_stay_end[v] = np.nan
    st.v_leave[v] = np.nan
    st.visit[pid] = v
    return v


@njit(**INLINED)
def _start_service(st, s, pid, now, v):
    st.occupied[s] += 1
    depth = st.v_depth[v]
    st.v_start[v] = now
    _log_start(st, _service_level(s, LV_PLACES), now)
    if st.takes_transfers[s]:
        _log_end(st, _service_level(s, LV_QUEUE), now)
    st.holding[pid] = v
    if depth == 0:
        st.used_service[pid] = s
        st.s_start[pid] = now
        if st.v_origin[v] == FROM_ARRIVAL:
            los = st.step_up_los[pid]
        else:
            los = st.service_los[s, pid]
    else:
        los = st.later_los[st.row_of[depth, s], pid]
    push(st, now + los, NORMAL, STAY_END, pid)


@njit(**INLINED)
def _transfer_waiting(st, first, now):
    """The reference cascade without recursion: serve ``first``'s queue; each move frees the place
    the patient held, whose own queue is served (depth first) before going on."""
    stack = st.cascade
    stack[0] = first
    top = 1
    while top > 0:
        s = _nn(stack[_nn(top - 1)])
        if st.q_head[s] >= 0 and st.occupied[s] < st.places[s]:
            pid = _dequeue(st, s)
            v = _nn(st.visit[pid])
            origin = st.v_origin[v]
            if origin == FROM_ACUTE:
                _delayed_change(st, -1, now)
                _start_service(st, s, pid, now, v)
                _free_bed(st, pid, now, False)
            else:
                held = st.holding[pid]
                _start_service(st, s, pid, now, v)
                if _vacate(st, origin, pid, held, now):
                    if top >= stack.size:
                        raise RuntimeError("onward transfer cascade deeper than the services allow")
                    stack[top] = origin
                    top += 1
        else:
            top -= 1


@njit(**INLINED)
def _vacate(st, s, pid, v, now):
    """The patient leaves its place in ``s``; true if the place is to be offered to ``s``'s queue."""
    st.occupied[s] -= 1
    st.v_leave[v] = now
    _log_end(st, _service_level(s, LV_PLACES), now)
    if st.routes_onward[s]:
        _log_end(st, _service_level(s, LV_BLOCKED), now)
    if st.v_depth[v] == 0:
        st.s_end[pid] = now
    return st.takes_transfers[s]


@njit(**INLINED)
def _leave_place(st, s, pid, v, now):
    if _vacate(st, s, pid, v, now):
        _transfer_waiting(st, s, now)


@njit(**INLINED)
def _move(st, pid, s, now, counted_delayed):
    v = _nn(st.visit[pid])
    origin = st.v_origin[v]
    if origin == FROM_ACUTE:
        if counted_delayed:
            _delayed_change(st, -1, now)
        _start_service(st, s, pid, now, v)
        _free_bed(st, pid, now, False)
    else:
        held = st.holding[pid]
        _start_service(st, s, pid, now, v)
        _leave_place(st, origin, pid, held, now)


@njit(**INLINED)
def _ready_for_transfer(st, pid, s, now, counted_delayed):
    v = _nn(st.visit[pid])
    st.v_ready[v] = now
    if st.takes_transfers[s]:
        _log_start(st, _service_level(s, LV_QUEUE), now)
    from_acute = st.v_origin[v] == FROM_ACUTE
    if from_acute:
        st.ready[pid] = now
    if st.occupied[s] < st.places[s] and st.q_head[s] < 0:
        _move(st, pid, s, now, counted_delayed)
    else:
        if from_acute and not counted_delayed:
            _delayed_change(st, 1, now)
        _queue(st, s, pid)


@njit(**INLINED)
def _refer(st, pid, s, origin, depth, now):
    _new_visit(st, pid, s, origin, depth, now)
    if st.has_assessment[s]:
        if origin == FROM_ACUTE:
            _delayed_change(st, 1, now)
        if depth == 0:
            days = st.assessment[s, pid]
        else:
            days = st.later_assessment[st.row_of[depth, s], pid]
        push(st, now + days * st.assessment_multiplier[s, _nn(st.arrival_day[pid])], NORMAL, READY, pid)
    else:
        _ready_for_transfer(st, pid, s, now, False)


# === event handlers ==================================================================================


@njit(**INLINED)
def _sort_day(st, pid, day):
    si = st.si
    accept = st.accept_probability[day]
    n = 0
    for i in range(pid + 1, st.day_end[day]):
        if st.u_accept[i] < accept:
            st.kept_today[n] = i
            n += 1
        else:
            st.outcome[i] = NOT_ARRIVED
    si[KEPT_POS] = 0
    si[KEPT_LEN] = n
    si[SORTED_DAY] = day


@njit(**INLINED)
def _emergency(st, pid, now):
    su = st.step_up_service
    if su >= 0 and st.u_step_up[pid] < st.step_up_share[_nn(st.group[pid]), _nn(st.arrival_day[pid])]:
        st.suitable[pid] = True
        if st.occupied[su] < st.places[su]:
            st.outcome[pid] = AVOIDED
            v = _new_visit(st, pid, su, FROM_ARRIVAL, 0, now)
            st.v_ready[v] = now
            if st.takes_transfers[su]:
                _log_start(st, _service_level(su, LV_QUEUE), now)
            _start_service(st, su, pid, now, v)
            return
    if _has_free_bed(st) and st.si[B_COUNT] == 0:
        _admit(st, pid, False)
    elif st.queue_when_full:
        _log_start(st, LV_BOARDING, now)
        _board(st, pid)
        if st.max_wait_days >= 0.0:
            push(st, now + st.max_wait_days, NORMAL, WAIT_LIMIT, pid)
    else:
        st.outcome[pid] = REFUSED


@njit(**INLINED)
def _on_arrival(st, pid):
    si = st.si
    t = st.sf[NOW]
    day = _nn(st.arrival_day[pid])
    if not st.u_accept[pid] >= st.accept_probability[day]:
        resolve(st, pid)
        _emergency(st, pid, t)
    else:
        st.outcome[pid] = NOT_ARRIVED
    if day != si[SORTED_DAY]:
        _sort_day(st, pid, day)
    if si[KEPT_POS] < si[KEPT_LEN]:
        nxt = _nn(st.kept_today[_nn(si[KEPT_POS])])
        si[KEPT_POS] += 1
    else:
        nxt = st.day_end[day]
    if nxt < st.n_emergencies:
        schedule_arrival(st, st.arrival[nxt], nxt)


@njit(**INLINED)
def _on_wait_limit(st, pid):
    if st.outcome[pid] == WAITING:
        _unboard(st, pid)
        st.outcome[pid] = TRANSFERRED
        _log_end(st, LV_BOARDING, st.sf[NOW])


@njit(**INLINED)
def _on_fit(st, pid, s):
    """``s``: the patient's discharge service (from the event: see SERVICE_SHIFT)."""
    now = st.sf[NOW]
    st.fit[pid] = now
    if s < 0:
        _free_bed(st, pid, now, True)
    else:
        _log_start(st, LV_DELAYED, now)
        _refer(st, pid, s, FROM_ACUTE, 0, now)


@njit(**INLINED)
def _on_ready(st, pid):
    _ready_for_transfer(st, pid, _nn(st.v_service[_nn(st.visit[pid])]), st.sf[NOW], True)


@njit(**INLINED)
def _on_stay_end(st, pid):
    now = st.sf[NOW]
    v = _nn(st.visit[pid])
    st.v_stay_end[v] = now
    s = _nn(st.v_service[v])
    if st.routes_onward[s]:
        _log_start(st, _service_level(s, LV_BLOCKED), now)
    depth = _nn(st.v_depth[v])
    dest = -1
    if st.routes_onward[s]:
        u = st.route_u[depth, pid]
        dest = st.onward_service[s, _bisect_right(st.onward_cumulative[s, _nn(st.arrival_day[pid])], u)]
    if dest < 0:
        _leave_place(st, s, pid, v, now)
    else:
        _refer(st, pid, dest, s, depth + 1, now)


# --- the elective waiting list -------------------------------------------------------------------------
# The reference's heap of (tier, key, key, patient) in two parts that give the same pop order:
# tier 0 (rebookings, keyed (time of cancellation, number of cancellations so far)) is first
# cancelled first rebooked, which is the cancellation log's order, so it is a cursor into that log
# (EL_REBOOK: every cancellation is logged and rebooked); tier 1 (priority, referral time, patient)
# is a heap of one integer per patient, its rank in that order above its index (``el_key``, from
# state.py), so a level of the heap costs one comparison of integers instead of up to four of four
# arrays.


EL_INDEX = np.int64(0xFFFF_FFFF)  # an elective's index, below its rank in el_key


@njit(**INLINED)
def _el_push(st, key):
    """An elective's key onto the heap of tier 1."""
    si = st.si
    h = st.el_heap
    i = _nn(si[EL_HEAP_N])
    si[EL_HEAP_N] = i + 1
    while i > 0:
        parent = _nn((i - 1) >> 1)
        if key < h[parent]:
            h[i] = h[parent]
            i = parent
        else:
            break
    h[i] = key


@njit(**INLINED)
def _el_pop(st):
    """The patient first in (tier, key, key, patient) order: a rebooking if any, else the heap's first."""
    si = st.si
    r = _nn(si[EL_REBOOK])
    if r < si[N_CANCEL]:
        si[EL_REBOOK] = r + 1
        return st.cancel_patient[r]
    h = st.el_heap
    top = h[0]
    n = _nn(si[EL_HEAP_N] - 1)
    si[EL_HEAP_N] = n
    if n > 0:
        last = h[n]
        i = 0
        while True:
            c = _nn(2 * i + 1)
            if c >= n:
                break
            if c + 1 < n and h[c + 1] < h[c]:
                c += 1
            if h[c] < last:
                h[i] = h[c]
                i = c
            else:
                break
        h[i] = last
    return st.n_emergencies + (top & EL_INDEX)


@njit(**INLINED)
def _book_electives(st, day):
    si = st.si
    first, n_el = st.n_emergencies, st.el_bookable.size
    accept = st.referral_accept[day]
    k = _nn(si[EL_NEXT_REF])
    while k < n_el and st.el_referral_day[k] <= day:
        if not st.el_u_accept[k] < accept:
            st.el_kept[k] = False
            st.outcome[first + k] = NOT_ARRIVED
        k += 1
    si[EL_NEXT_REF] = k
    slots = st.elective_slots[day]
    i = _nn(si[EL_NEXT])
    while i < n_el and st.el_bookable[i] <= day:  # both in bookable order
        key = st.el_key[i]
        if st.el_kept[_nn(key & EL_INDEX)]:
            _el_push(st, key)
        i += 1
    si[EL_NEXT] = i
    booked = min(slots, si[EL_HEAP_N] + si[N_CANCEL] - si[EL_REBOOK])
    pids = st.el_booked  # the whole list at most
    for j in range(booked):
        pids[j] = _el_pop(st)
    now = st.sf[NOW]
    for j in range(booked):
        offset = st.el_first_hour_days + st.el_spread_days * j / slots
        push(st, now + offset, NORMAL, ELECTIVE_ADMISSION, pids[j])


@njit(**INLINED)
def _on_elective_admission(st, pid):
    si = st.si
    if _has_free_bed(st) and si[B_COUNT] == 0:
        _admit(st, pid, True)  # an elective: no boarding
    else:
        now = st.sf[NOW]
        st.times_cancelled[pid] += 1
        c = si[N_CANCEL]
        st.cancel_days[c] = now
        st.cancel_patient[c] = pid
        si[N_CANCEL] = c + 1  # and rebooked first (_el_pop)


# --- midnight ----------------------------------------------------------------------------------------


@njit(**INLINED)
def _gate_may_open(st, day):
    """Does every condition of some shut gate hold (the reference Gate.holds, same arithmetic)?"""
    for g in range(st.gate_shut.size):
        if not st.gate_shut[g]:
            continue
        holds = True
        for c in range(st.cond_start[g], st.cond_start[g + 1]):
            kind, n, x = st.cond_kind[c], st.cond_int[c], st.cond_value[c]
            if kind == CAPACITY_AT_LEAST:
                ok = st.service_places[n, day] >= x
            elif kind == OCCUPANCY_AT_MOST:
                ok = False
                if day >= n:
                    beds = 0
                    for d in range(day - n, day):
                        beds += st.core_beds[d] + st.escalation_beds[d]
                    if beds > 0:
                        area = 0.0
                        for d in range(day - n, day):
                            area += st.occupied_bed_days[d]
                        ok = area / beds <= x
            else:
                ok = False
                if day >= n:
                    area = 0.0
                    for d in range(day - n, day):
                        area += st.delayed_bed_days[d]
                    ok = area / n <= x
            if not ok:
                holds = False
                break
        if holds:
            return True
    return False


@njit(**INLINED)
def _midnight_rest(st, day):
    """The midnight after its gates: capacities, boarders, transfers, electives, next midnight."""
    now = st.sf[NOW]
    st.si[BED_CAP] = st.core_beds[day] + st.escalation_beds[day]
    _levels_open_day(st, day)
    _admit_boarders(st)
    for s in range(st.places.size):
        st.places[s] = st.service_places[s, day]
    for s in range(st.places.size):
        if st.takes_transfers[s]:
            _transfer_waiting(st, s, now)
    _book_electives(st, day)
    if day + 1 < st.horizon_days:
        push(st, now + ((day + 1) - now), URGENT, MIDNIGHT, day + 1)


# === the loop ===========================================================================================


@njit(**JIT)
def start(st):
    """The reference Engine.run before its first event (a run without a census)."""
    push(st, 0.0, URGENT, MIDNIGHT, 0)
    if st.n_emergencies > 0:
        schedule_arrival(st, st.arrival[0], 0)
    for pid in range(st.n_emergencies, st.n_emergencies + st.el_bookable.size):
        st.outcome[pid] = ON_LIST
        resolve(st, pid)


@njit(**INLINED)
def _needs_rows(st):
    """Is the next event a stay end whose onward visit needs numbers not drawn yet?"""
    if _arrival_first(st):
        return False
    payload = st.ev_payload[0] & PATIENT_KIND
    if payload % KINDS != STAY_END:
        return False
    pid = payload // KINDS
    v = st.visit[pid]
    s, depth = st.v_service[v], st.v_depth[v]
    if not st.routes_onward[s]:
        return False
    if depth >= st.route_u.shape[0] or depth + 1 >= st.row_of.shape[0]:
        st.si[NEED_DEPTH], st.si[NEED_SERVICE] = depth, s
        return True
    for j in range(st.onward_service.shape[1]):
        dest = st.onward_service[s, j]
        if dest >= 0 and st.row_of[depth + 1, dest] < 0:
            st.si[NEED_DEPTH], st.si[NEED_SERVICE] = depth, s
            return True
    return False


@njit(**JIT)
def run(st, until):
    """Run events due before ``until``; returns DONE, or why it stopped early (resume by calling
    again once Python has done its part)."""
    si, sf = st.si, st.sf
    if si[PENDING_MIDNIGHT] >= 0:  # resumed after Python opened the gates of this midnight
        day = si[PENDING_MIDNIGHT]
        si[PENDING_MIDNIGHT] = -1
        _midnight_rest(st, day)
    while True:
        if si[N_EVENTS] == 0:
            _refill(st)
        arrival_next = _arrival_first(st)
        if arrival_next:
            if not sf[NEXT_ARRIVAL_TIME] < until:
                break
        elif si[N_EVENTS] == 0 or not st.ev_time[0] < until:
            break
        if si[N_VISITS] + 1 >= st.v_patient.size:
            return GROW_VISITS
        if si[N_CANCEL] + 1 >= st.cancel_days.size:
            return GROW_CANCEL
        if st.any_onward and _needs_rows(st):
            return NEED_ROWS
        if arrival_next:
            time, payload = sf[NEXT_ARRIVAL_TIME], si[NEXT_ARRIVAL] * KINDS + ARRIVAL
            si[NEXT_ARRIVAL] = -1
        else:
            time, payload = pop(st)
        sf[NOW] = time
        si[PROCESSED] += 1
        payload = _nn(payload)
        kind, arg = (payload & PATIENT_KIND) % KINDS, (payload & PATIENT_KIND) // KINDS
        if kind == ARRIVAL:
            _on_arrival(st, arg)
        elif kind == FIT:
            _on_fit(st, arg, (payload >> SERVICE_SHIFT) - 1)
        elif kind == STAY_END:
            _on_stay_end(st, arg)
        elif kind == READY:
            _on_ready(st, arg)
        elif kind == ELECTIVE_ADMISSION:
            _on_elective_admission(st, arg)
        elif kind == WAIT_LIMIT:
            _on_wait_limit(st, arg)
        else:  # MIDNIGHT
            if arg > 0:
                _close_days(st, arg - 1, time)
                _close_levels(st, arg - 1, time)
            if _gate_may_open(st, arg):
                si[PENDING_MIDNIGHT] = arg
                return GATES
            _midnight_rest(st, arg)
    si[N_EVENTS] = 0  # as the reference queue: what is pending at the horizon is dropped
    si[NEXT_ARRIVAL] = -1
    if until >= st.horizon_days:
        _close_levels(st, st.horizon_days - 1, float(st.horizon_days))
    return DONE
