"""The SQLite store from Python: import a dataset, add events, read a user's history; counts equal
`crec db info --json`, a snapshot trains like `crec train --db`."""
import numpy as np
import pytest

import crec


def test_store_round_trip(synth, cli, work):
    db = str(work / "s.db")
    with crec.Store(db) as st:
        r = st.import_dataset(synth)
        assert r["events_added"] == len(synth) and r["users_added"] == synth.n_users
        stats = st.stats()
        assert (stats["users"], stats["items"], stats["events"]) == (synth.n_users, synth.n_items, len(synth))
        u = synth.user_name(2)
        h = st.history(u)
        n2 = int((synth.log["user"] == 2).sum())
        assert len(h.items) == n2 and h.ts.dtype == np.int64 and h.values.dtype == np.float32
        assert np.all(np.diff(h.ts) >= 0)
        assert st.history(u, last=3).items == h.items[-3:]
        item = synth.item_name(11)
        t0 = int(synth.log["ts"].max()) + 1
        st.add_events([u, "newcomer"], [item, item], ts=[t0, t0 + 1])
        assert st.history(u).items[-1] == item
        assert st.history("newcomer").items == [item]
        with pytest.raises(crec.NotFound, match="unknown item 'no-such-item'"):
            st.add_events(["newcomer", "newcomer"], [item, "no-such-item"])
        assert len(st.history("newcomer").items) == 1  # nothing of the failed batch was written
        st.put_item("fresh", title="A Fresh Item", attributes=["topic:new"])
        st.add_event("newcomer", "fresh", type="click", ts=t0 + 2)
        h = st.history("newcomer")
        assert h.items == [item, "fresh"] and h.types == ["interaction", "click"]
        with pytest.raises(crec.NotFound, match="unknown user"):
            st.history("nobody")
        snap = st.snapshot()
        assert (snap.n_users, snap.n_items, len(snap)) == (synth.n_users + 1, synth.n_items + 1, len(synth) + 3)
    ref = cli("db", "info", "--db", db, "--json", json_out=True)
    with crec.Store(db, readonly=True) as st:
        s = st.stats()
    for k in ("users", "items", "hidden_items", "events", "event_types", "attributes"):
        assert s[k] == ref[k], k
    m = crec.train("pop", snap)
    assert m.recommend(snap, user="newcomer", k=3).ids.size == 3
    with pytest.raises(crec.NotFound):
        crec.Store(str(work / "absent.db"), readonly=True)
