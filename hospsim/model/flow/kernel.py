"""The flow engine's hourly loop, compiled with numba.

Each hour: boarders past the wait limit leave for another hospital; ready patients move into
free community places (a freed place is offered on: a cascade); free beds go to boarders first
come first served, then to the hour's booked electives (cancelled if anyone is boarding or no bed
is free), then to new emergencies (step-up first for the suitable share, while places are free);
what cannot be admitted boards (or is refused). At the end of the hour every stage's exits for
the hour leave by their routes. Amounts are expected numbers of patients (floats); every flow
moves a stock from one place to another, so the patients in the system always add up.

Arrays are grouped in three tuples: ``p`` (the plan and the network, read only), ``k`` (the
kernel bank) and ``s`` (the state and the outputs, written). Their fields are listed in
:mod:`.state`.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

HOURS = 24
FIRST_WINDOWS = 5  # windows (days 2..6 after entry) spread by entry hour; later ones evenly
NEAR_DAYS = 2  # ... in days: later exits start two midnights on
NEAR = 48  # hours after entry kept hour by hour (los.NEAR_STEPS)
HOME = -1
ACUTE, SERVICE, ASSESS = 0, 1, 2
# As the compiled DES engine (:mod:`hospsim.model.fast.kernel`): cached on disk, no reference
# counting, and the helpers inlined into the loop (a call would copy the ~70-array state each
# time: 20x slower).
JIT: dict[str, Any] = {"cache": True, "_nrt": False}
INLINED: dict[str, Any] = {**JIT, "forceinline": True}


@nb.njit(**INLINED)
def _inflow(p, k, s, st, t, j, d, x):
    """``x`` patients enter stage ``st`` in hour ``t``: their exits over the next 48 hours are
    scheduled hour by hour (later ones at the day's end, :func:`_far_scatter`)."""
    if x <= 0.0:
        return
    s.stock[st] += x
    s.hour_in[st, j] += x
    s.day_in[st, d] += x
    slot = p.st_slot[st]
    row = k.row_of[slot, d]
    due = s.due[st]
    late = s.exits_done[0] == t  # entered after the hour's exits (a move at its end)
    n = k.sparse_n[row]
    if n > 0:
        lags = k.sparse_lag[row]
        shares = k.sparse_share[row]
        for i in range(n):
            lag = lags[i] + 1 if late and lags[i] == 0 else lags[i]
            due[t + lag] += x * shares[i]
        return
    w = k.row_w[slot, d]
    near = k.near[row]
    first = near[0]
    if w == 0.0:
        for lag in range(NEAR):
            due[t + lag] += x * near[lag]
    else:  # a ramp's day: the blend of its two grid rows
        up = k.near[k.row_up[slot, d]]
        lo = x * (1.0 - w)
        hi = x * w
        first = (1.0 - w) * near[0] + w * up[0]
        for lag in range(NEAR):
            due[t + lag] += lo * near[lag] + hi * up[lag]
    if late:  # ... its exits in the hour leave in the next
        due[t + 1] += x * first


@nb.njit(**INLINED)
def _enter_source(p, k, s, src, t, j, d, x):
    """``x`` patients start a stay of source ``src`` (a group's admissions, a service's entries)."""
    for i in range(p.src_start[src], p.src_start[src + 1]):
        st = p.src_stage[i]
        w = p.st_weight[st, d]
        if w > 0.0:
            _inflow(p, k, s, st, t, j, d, x * w)


@nb.njit(**INLINED)
def _route(p, k, s, st, t, j, d, x):
    """Patients leaving stage ``st``: home (their place freed) or on to a service."""
    holder = p.st_holder[st]
    if p.st_kind[st] == ASSESS:
        s.rq[p.st_target[st], holder] += x
        return
    for r in range(p.route_start[st], p.route_start[st + 1]):
        amt = x * p.route_share[r]
        if amt <= 0.0:
            continue
        dest = p.route_dest[r]
        if dest == HOME:
            if holder == 0:
                s.beds[0] -= amt
                if p.st_emergency[st]:
                    s.beds[1] -= amt
                s.discharged[d] += amt
            else:
                _avoided_leave(s, holder - 1, amt)
                s.occ[holder - 1] -= amt
                s.left_services[d] += amt
            continue
        if holder == 0:
            s.beds[2] += amt  # delayed: medically fit, still in the bed
            if p.st_emergency[st]:
                s.beds[3] += amt
        else:
            s.blocked[holder - 1] += amt
        a = p.assess_of[dest, holder]
        if a >= 0:
            _inflow(p, k, s, a, t, j, d, amt)
        else:
            s.rq[dest, holder] += amt


@nb.njit(**INLINED)
def _avoided_leave(s, sv, amt):
    """``amt`` patients leave their places in service ``sv``: the step-up patients among them
    (patients mix in a service: in proportion); returns how many of them left."""
    occ = s.occ[sv]
    if occ <= 0.0:
        return 0.0
    out = s.avoided_in[sv] * min(amt / occ, 1.0)
    s.avoided_in[sv] -= out
    return out


@nb.njit(**INLINED)
def _exits(p, k, s, t, j, d):
    """The end of hour ``t``: every stage's exits in the hour leave (stages in kind order, so
    an assessment entered this hour may end in it too)."""
    for st in range(p.n_stages):
        x = s.due[st, t] + s.far_hour[st, j]
        if x <= 0.0:
            continue
        x = min(x, s.stock[st])  # never below zero through rounding
        s.stock[st] -= x
        _route(p, k, s, st, t, j, d, x)
    s.exits_done[0] = t


@nb.njit(**INLINED)
def _far_hours(p, s, d):
    """The start of day ``d``: each stage's later exits per hour of the day: those of the first
    windows by entry hour (each window's parts before and after its midnight spread over their
    own hours), the later ones evenly over the day."""
    for st in range(p.n_stages):
        fh = s.far_hour[st]
        even = s.far_day[st, d] / HOURS
        for h in range(HOURS):
            fh[h] = even
        fa = s.far_a[st, d]  # day by day: the day's 24 entry hours side by side
        fb = s.far_b[st, d]
        for j in range(HOURS):
            a = fa[j]
            if a > 0.0:
                per = a / (HOURS - j)
                for h in range(j, HOURS):
                    fh[h] += per
            if j > 0:
                b = fb[j]
                if b > 0.0:
                    per = b / j
                    for h in range(j):
                        fh[h] += per


@nb.njit(**INLINED)
def _far_scatter(p, k, s, d, n_days):
    """The end of day ``d``: schedule the later exits (48 hours on) of the day's inflows, in
    windows of 24 hours from each entry hour. A constant slot's windows are split exactly at the
    midnight each straddles: the first few by entry hour, the rest by day totals computed in low
    rank (exact to ~1e-11). A slot whose multiplier changes splits each window in proportion to
    its hours."""
    for st in range(p.n_stages):
        hin = s.hour_in[st]
        slot = p.st_slot[st]
        c = k.exact_of[slot]
        last = n_days - d - NEAR_DAYS  # windows whose first part is inside the horizon
        fd = s.far_day[st]
        if c < 0:
            before = 0.0
            after = 0.0
            for j in range(HOURS):
                before += hin[j] * (HOURS - j) / HOURS
                after += hin[j] * j / HOURS
            row = k.row_of[slot, d]
            up = k.row_up[slot, d]
            w = k.row_w[slot, d]
            rest_lo = k.rest[row] * (1.0 - w)
            rest_hi = k.rest[up] * w
            shape_lo = k.far_shape[row]
            shape_hi = k.far_shape[up]
            n = max(last, 0)
            start = d + NEAR_DAYS
            # "after" first: see _add_scaled
            _add_blend(fd[start + 1 : start + 1 + n], after, rest_lo, shape_lo[:n], rest_hi, shape_hi[:n])
            _add_blend(fd[start : start + n], before, rest_lo, shape_lo[:n], rest_hi, shape_hi[:n])
        else:
            first = min(FIRST_WINDOWS, last)
            for j in range(HOURS):
                x = hin[j]
                if x <= 0.0:
                    continue
                pa = k.part_a[c, j]
                pb = k.part_b[c, j]
                for m in range(first):
                    s.far_a[st, d + NEAR_DAYS + m, j] += x * pa[m]
                    s.far_b[st, d + NEAR_DAYS + 1 + m, j] += x * pb[m]
            ua = k.u_a[c]
            ub = k.u_b[c]
            for r in range(k.v_a.shape[1]):
                ya = 0.0
                yb = 0.0
                for j in range(HOURS):
                    ya += hin[j] * ua[j, r]
                    yb += hin[j] * ub[j, r]
                if last > first:
                    start = d + NEAR_DAYS
                    _add_scaled(fd[start + 1 + first : start + 1 + last], yb, k.v_b[c, r, first:last])
                    _add_scaled(fd[start + first : start + last], ya, k.v_a[c, r, first:last])
        for j in range(HOURS):
            hin[j] = 0.0


@nb.njit(**INLINED)
def _add_scaled(dst, y, src):
    """``dst += y * src`` (views of equal length). Indexed from 0 in views, the loop vectorises
    (one loop adding both windows of a day, ``fd[i]`` and ``fd[i + 1]``, could not). Adding the
    "after" parts (``fd[i + 1]``) before the "before" parts (``fd[i]``) keeps the order in which
    each day's total receives its terms, so the sums are the same to the bit."""
    for m in range(dst.size):
        dst[m] += y * src[m]


@nb.njit(**INLINED)
def _add_blend(dst, y, w_lo, lo, w_hi, hi):
    """``dst += y * (w_lo * lo + w_hi * hi)``: :func:`_add_scaled` of a ramp's blended rows."""
    for m in range(dst.size):
        dst[m] += y * (w_lo * lo[m] + w_hi * hi[m])


@nb.njit(**INLINED)
def _transfers(p, k, s, t, j, d):
    """Ready patients move into free places, first the longest waiting (shares of each sender
    in proportion); a place freed in a sender is offered on, until nothing moves."""
    n_services = p.n_services
    moved_any = True
    passes = 0
    while moved_any and passes <= n_services + 1:
        moved_any = False
        passes += 1
        for sv in range(n_services):
            if not p.takes_transfers[sv]:
                continue
            waiting = 0.0
            for h in range(n_services + 1):
                waiting += s.rq[sv, h]
            free = p.places[sv, d] - s.occ[sv]
            if waiting <= 0.0 or free <= 0.0:
                continue
            move = min(waiting, free)
            old = s.rq_old[sv]
            moved_old = min(move, old)
            s.rq_old[sv] = old - moved_old
            s.waited_moves[sv, d] += moved_old
            s.moves[sv, d] += move
            for h in range(n_services + 1):
                q = s.rq[sv, h]
                if q <= 0.0:
                    continue
                mv = q if move >= waiting else q * (move / waiting)
                s.rq[sv, h] = q - mv
                if h == 0:
                    share_em = s.beds[3] / s.beds[2] if s.beds[2] > 0.0 else 0.0
                    s.beds[0] -= mv
                    s.beds[1] -= mv * share_em
                    s.beds[2] -= mv
                    s.beds[3] -= mv * share_em
                    s.transfers_from_beds[d] += mv
                else:
                    moved = _avoided_leave(s, h - 1, mv)  # read before adding: h - 1 may be sv
                    s.avoided_in[sv] += moved
                    s.occ[h - 1] -= mv
                    s.blocked[h - 1] -= mv
            s.occ[sv] += move
            _enter_source(p, k, s, p.n_groups + 1 + sv, t, j, d, move)
            moved_any = True


@nb.njit(**INLINED)
def _board(p, s, t, d):
    """Boarders past the wait limit leave; those waiting 4 and 12 hours are counted."""
    limit = p.max_wait_steps
    for c in range(s.board_head[0], t):
        age = t - c
        if s.board_total[c] <= 0.0:
            continue
        if age == 4:
            s.waits4[c // HOURS] += s.board_total[c]
        if age == 12:
            s.waits12[c // HOURS] += s.board_total[c]
        if limit > 0 and age >= limit:
            amt = s.board_total[c]
            day = (c + limit) // HOURS
            if day >= p.n_days:
                day = p.n_days - 1
            s.transferred[day] += amt
            if p.window_start <= c // HOURS < p.window_end:
                s.wait_hours_sum[0] += amt * p.max_wait_hours
            for g in range(p.n_groups):
                s.displaced[day] += s.board[g, c] * p.group_mean_los[g, c // HOURS]
                s.board[g, c] = 0.0
            s.board_total[c] = 0.0
            s.board_sum[0] -= amt
    while s.board_head[0] < t and s.board_total[s.board_head[0]] <= 0.0:
        s.board_head[0] += 1
    if s.board_head[0] == t:  # every cohort before this hour is empty, and this hour's too
        s.board_sum[0] = 0.0  # (not a rounding residue of the running sum)


@nb.njit(**INLINED)
def _admit_boarders(p, k, s, t, j, d, free):
    """Free beds to boarders, first come first served; returns the beds still free."""
    c = s.board_head[0]
    while free > 0.0 and s.board_sum[0] > 0.0 and c <= t:
        tot = s.board_total[c]
        if tot > 0.0:
            take = min(free, tot)
            share = take / tot
            for g in range(p.n_groups):
                amt = s.board[g, c] if take >= tot else s.board[g, c] * share
                if amt > 0.0:
                    s.board[g, c] -= amt
                    _admit(p, k, s, g, t, j, d, amt)
            s.wait_hours_sum[0] += take * (t - c) if p.window_start <= c // HOURS < p.window_end else 0.0
            s.board_total[c] = tot - take if take < tot else 0.0
            s.board_sum[0] -= take
            free -= take
        c += 1
    if (c > t and s.board_total[t] <= 0.0) or s.board_sum[0] < 1e-12:
        s.board_sum[0] = 0.0  # first come first served up to this hour, all taken in: nobody boards
    return free


@nb.njit(**INLINED)
def _admit(p, k, s, g, t, j, d, amt):
    """``amt`` patients of group ``g`` take beds now."""
    s.beds[0] += amt
    if g < p.n_groups:
        s.beds[1] += amt
        s.em_admissions[d] += amt
    else:
        s.el_admissions[d] += amt
    _enter_source(p, k, s, g, t, j, d, amt)


@nb.njit(**INLINED)
def _arrivals(p, k, s, t, j, d, free):
    """The hour's emergencies: step-up for the suitable while places are free, then a bed, else
    the boarding queue (or refused)."""
    lam = p.arrivals_per_day[d] * p.hour_share[j]
    if lam <= 0.0:
        return free
    s.em_arrivals[d] += lam
    G = p.n_groups
    su = p.step_up
    suitable = 0.0
    for g in range(G):
        s.need[g] = lam * p.group_share[g]
        s.suit[g] = s.need[g] * p.step_up_share[g, d] if su >= 0 else 0.0
        suitable += s.suit[g]
    if suitable > 0.0:
        room = max(p.places[su, d] - s.occ[su], 0.0)
        go = min(room, suitable)
        s.suitable[d] += suitable
        if go > 0.0:
            s.avoided[d] += go
            s.occ[su] += go
            s.avoided_in[su] += go
            for g in range(G):
                s.need[g] -= s.suit[g] * (go / suitable) if go < suitable else s.suit[g]
            _enter_source(p, k, s, G + 1 + su, t, j, d, go)
    need = 0.0
    for g in range(G):
        need += s.need[g]
    admit = max(min(free, need), 0.0) if s.board_sum[0] <= 0.0 else 0.0
    if admit > 0.0:
        for g in range(G):
            _admit(p, k, s, g, t, j, d, s.need[g] * (admit / need) if admit < need else s.need[g])
        free -= admit
    rest = need - admit
    if rest > 0.0:
        share = rest / need
        if p.queue_when_full:
            for g in range(G):
                s.board[g, t] += s.need[g] * share
            s.board_total[t] += rest
            s.board_sum[0] += rest
            s.boarded[d] += rest
        else:  # refused unless a bed frees in the hour (see _end_of_hour_beds)
            for g in range(G):
                s.pending[g] += s.need[g] * share
    return free


@nb.njit(**INLINED)
def _end_of_hour_beds(p, k, s, t, j, d):
    """Beds freed in the hour go at once to those waiting for one, as in the DES: boarders
    (this hour's arrivals too) or, with ``when_full: refuse``, the hour's arrivals who found no
    bed; whoever still has none then is refused."""
    free = p.total_beds[d] - s.beds[0]
    if p.queue_when_full:
        if free > 0.0 and s.board_sum[0] > 0.0:
            _admit_boarders(p, k, s, t, j, d, free)
        return
    waiting = 0.0
    for g in range(p.n_groups):
        waiting += s.pending[g]
    if waiting <= 0.0:
        return
    admit = min(max(free, 0.0), waiting)
    for g in range(p.n_groups):
        x = s.pending[g]
        if x <= 0.0:
            continue
        taken = x if admit >= waiting else x * (admit / waiting)
        if taken > 0.0:
            _admit(p, k, s, g, t, j, d, taken)
        s.refused[d] += x - taken
        s.displaced[d] += (x - taken) * p.group_mean_los[g, d]
        s.pending[g] = 0.0


@nb.njit(**INLINED)
def _book_electives(p, s, d):
    """The midnight that starts day ``d``: the day's referrals join the list; its slots are
    booked from the top: cancelled patients first, then by priority, oldest referral first."""
    L = p.list_offset
    P = p.n_priorities
    kept = p.referrals_per_day[d]
    s.el_referrals[d] += kept
    for pr in range(P):
        s.on_list[pr, L + d] += kept * p.priority_share[pr]
        s.listed[pr, L + d] += kept * p.priority_share[pr]
    slots = float(p.slots[d])
    s.booked_today[:, :] = 0.0
    s.rebooked_today[:, :] = 0.0
    left = slots
    for c in range(L + d):  # cancelled: back at the top, oldest first
        for pr in range(P):
            a = s.cancelled[pr, c]
            if a > 0.0 and left > 0.0:
                take = min(a, left)
                s.cancelled[pr, c] = a - take if take < a else 0.0
                s.rebooked_today[pr, c] += take
                left -= take
    for pr in range(P):
        for c in range(L + d):
            if left <= 0.0:
                break
            lag = L + d - c  # days since the referral day (the referral day itself: 0)
            avail = s.listed[pr, c] * p.bookable_by[lag] - s.booked[pr, c]
            if avail > 0.0:
                take = min(avail, left)
                s.booked[pr, c] += take
                s.booked_today[pr, c] += take
                left -= take
    booked = slots - left
    s.booked_amount[0] = booked
    for j in range(HOURS):
        s.el_due[j] = booked * p.slot_hour_share[j] if slots > 0 else 0.0


@nb.njit(**INLINED)
def _close_elective_day(p, s, d):
    """The end of day ``d``: the day's booked electives admitted or cancelled (in proportion),
    and the list at midnight."""
    booked = s.booked_amount[0]
    if booked > 0.0:
        admitted = s.el_admitted_today[0]
        frac = min(admitted / booked, 1.0)
        L = p.list_offset
        for pr in range(p.n_priorities):
            for c in range(L + d):
                b = s.booked_today[pr, c] + s.rebooked_today[pr, c]
                if b > 0.0:
                    s.on_list[pr, c] -= b * frac
                    s.cancelled[pr, c] += b * (1.0 - frac)
        s.el_cancellations[d] += booked - admitted
    s.el_admitted_today[0] = 0.0
    s.booked_amount[0] = 0.0
    _list_at_midnight(p, s, d)


@nb.njit(**INLINED)
def _list_at_midnight(p, s, d):
    """Electives on the list at the midnight that ends day ``d`` (referred before it), and how
    many of them have waited over each RTT threshold; the window's wait histogram."""
    L = p.list_offset
    midnight = d + 1.0
    total = 0.0
    in_window = p.window_start <= d < p.window_end
    for c in range(L + d + 1):
        day_c = c - L
        amt = 0.0
        for pr in range(p.n_priorities):
            amt += s.on_list[pr, c]
        if amt <= 1e-15:
            continue
        total += amt
        for w in range(p.rtt_days.size):
            # referrals spread evenly over their day: the share referred before midnight - 7w
            cut = midnight - p.rtt_days[w] - day_c
            frac = 0.0 if cut <= 0.0 else (1.0 if cut >= 1.0 else cut)
            s.waiting_over[w, d] += amt * frac
        if in_window:
            age = int(midnight - day_c - 1.0)  # whole days waited by the latest of the cohort
            if age >= s.wait_hist.size:
                age = s.wait_hist.size - 1
            s.wait_hist[age] += amt
    s.waiting_list[d] = total


@nb.njit(**INLINED)
def _electives_due(p, k, s, t, j, d, free):
    due = s.el_due[j]
    if due <= 0.0:
        return free
    if s.board_sum[0] > 0.0:
        return free  # cancelled: counted at the end of the day
    admit = min(due, max(free, 0.0))
    if admit > 0.0:
        _admit(p, k, s, p.n_groups, t, j, d, admit)
        s.el_admitted_today[0] += admit
    return free - admit


@nb.njit(**INLINED)
def _record(p, s, t, j, d):
    """The end of hour ``t``: stocks for the daily table (trapezoids of the hour's ends)."""
    beds = s.beds[0]
    prev = s.prev
    s.occ_area[d] += 0.5 * (prev[0] + beds) / HOURS
    s.em_area[d] += 0.5 * (prev[1] + s.beds[1]) / HOURS
    s.delayed_area[d] += 0.5 * (prev[2] + s.beds[2]) / HOURS
    s.board_area[d] += 0.5 * (prev[3] + s.board_sum[0]) / HOURS
    mean_beds = 0.5 * (prev[0] + beds)
    esc = p.total_beds[d] - p.core_beds[d]
    over = min(max(mean_beds - p.core_beds[d], 0.0), esc)
    s.escalation_area[d] += over / HOURS
    if beds > s.occ_max[d]:
        s.occ_max[d] = beds
    if prev[0] > s.occ_max[d]:
        s.occ_max[d] = prev[0]
    prev[0] = beds
    prev[1] = s.beds[1]
    prev[2] = s.beds[2]
    prev[3] = s.board_sum[0]
    for sv in range(p.n_services):
        waiting = 0.0
        for h in range(p.n_services + 1):
            waiting += s.rq[sv, h]
        s.svc_area[0, sv, d] += 0.5 * (s.svc_prev[0, sv] + s.occ[sv]) / HOURS
        s.svc_area[1, sv, d] += 0.5 * (s.svc_prev[1, sv] + waiting) / HOURS
        s.svc_area[2, sv, d] += 0.5 * (s.svc_prev[2, sv] + s.blocked[sv]) / HOURS
        s.svc_prev[0, sv] = s.occ[sv]
        s.svc_prev[1, sv] = waiting
        s.svc_prev[2, sv] = s.blocked[sv]
        # Whoever is still waiting at the hour's end has waited when the next moves come.
        s.rq_old[sv] = waiting
    for st in range(p.n_stages):
        if p.st_kind[st] == ASSESS:
            sv = p.st_target[st]
            s.svc_area[3, sv, d] += 0.5 * (s.assess_prev[st] + s.stock[st]) / HOURS
            s.assess_prev[st] = s.stock[st]
    if j == HOURS - 1:
        s.occ_midnight[d] = beds
        s.delayed_midnight[d] = s.beds[2]
        s.board_midnight[d] = s.board_sum[0]


@nb.njit(**JIT)
def run_days(p, k, s, d0, d1):
    """Simulate days ``d0 .. d1 - 1`` hour by hour."""
    for d in range(d0, d1):
        _far_hours(p, s, d)
        _book_electives(p, s, d)
        for j in range(HOURS):
            t = d * HOURS + j
            _board(p, s, t, d)
            if j == 0:
                _transfers(p, k, s, t, j, d)  # the day's places
            free = p.total_beds[d] - s.beds[0]
            if free > 0.0:
                free = _admit_boarders(p, k, s, t, j, d, free)
            free = _electives_due(p, k, s, t, j, d, free)
            _arrivals(p, k, s, t, j, d, free)
            _exits(p, k, s, t, j, d)
            _transfers(p, k, s, t, j, d)  # who became ready in the hour moves now if a place is free
            _end_of_hour_beds(p, k, s, t, j, d)
            _record(p, s, t, j, d)
        _far_scatter(p, k, s, d, p.n_days)
        _close_elective_day(p, s, d)


@nb.njit(**JIT)
def long_stay_levels(day_in, rows, rows_up, weights, present_daily, after_days, out):
    """Per day (into ``out``): mean patients in acute stays that began ``after_days`` (>= 1) or more
    days before (each day's admissions spread over it; the day's mean from its two ends; a
    ramp's day blends two rows)."""
    n_stages, n_days = day_in.shape
    for i in range(n_stages):
        for ds in range(n_days):
            x = day_in[i, ds]
            if x <= 0.0:
                continue
            end = max(n_days - ds, after_days)
            # views indexed from 0: the loop vectorises (as _add_scaled)
            _add_levels(
                out[ds + after_days : ds + end],
                x * 0.5,
                weights[i, ds],
                present_daily[rows[i, ds], after_days - 1 : end],
                present_daily[rows_up[i, ds], after_days - 1 : end],
            )
    return out


@nb.njit(**INLINED)
def _add_levels(dst, y, w, pres, pres_up):
    """``dst[n] += y * ((1 - w) lo + w hi)``, ``lo``, ``hi``: the sums of ``pres[n], pres[n + 1]``
    and of ``pres_up``'s (one day's two ends)."""
    for n in range(dst.size):
        lo = pres[n] + pres[n + 1]
        hi = pres_up[n] + pres_up[n + 1]
        dst[n] += y * ((1.0 - w) * lo + w * hi)


@nb.njit(cache=True)
def thin_qr(a):
    """``a = q r`` for a tall ``a`` (n x k): Gram-Schmidt, orthogonalised twice (as stable as
    Householder). Single-threaded on purpose: LAPACK's threaded QR of such a small matrix took
    0.15 s a call on a busy machine, this takes a millisecond."""
    n, k = a.shape
    q = a.copy()
    r = np.zeros((k, k))
    for j in range(k):
        for _ in range(2):
            for i in range(j):
                dot = 0.0
                for t in range(n):
                    dot += q[t, i] * q[t, j]
                r[i, j] += dot
                for t in range(n):
                    q[t, j] -= dot * q[t, i]
        norm = 0.0
        for t in range(n):
            norm += q[t, j] * q[t, j]
        norm = np.sqrt(norm)
        r[j, j] = norm
        if norm > 0.0:
            for t in range(n):
                q[t, j] /= norm
    return q, r
