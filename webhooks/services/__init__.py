"""Delivery writes (SPEC §7 and §7.1), one module per concern.

- `deliveries`: creating deliveries, test webhooks, replays and cancellations;
- `queue`: the delivery rows as the queue (claims with leases, lane by lane) and taking back the
  deliveries of dead workers;
- `sending`: one claimed delivery's tries, what the answer changes, and what its lane learns;
- `endpoints`: activating and deactivating endpoints, seeding from the environment.

A delivery moves through explicit states, each move a conditional UPDATE, so two workers can never
both act on one attempt:

    pending --claim (due, its lane admits it)--> sending
    sending --answer, same claim token--> succeeded | failed | pending (retry at next_attempt_at)
                                          | paused (410 Gone, or its endpoint was deactivated)
    sending --lease expired (its worker died), or its worker stopping--> pending | failed | paused
    pending --endpoint deactivated--> paused --endpoint activated--> pending
    pending | paused --cancelled by staff--> cancelled
    succeeded | failed | cancelled --replay--> pending (a new attempt series, same webhook-id)

Retries are never slept on: a retry is the same row, pending again with a later due time.
"""
