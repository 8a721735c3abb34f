/* users: the data-plane routes of the API (docs/api.md, "Data plane"):
 * users, their data and conferences, locations, divergence.
 *
 * A write is accepted only by the agent of the pool that owns the user
 * set of the user's home pool (421 with the owner's API otherwise) and is
 * answered once durable, with the epoch and sequence it was stored under.
 *
 * Loop thread only. */
#ifndef POOLPAIR_USERS_H
#define POOLPAIR_USERS_H

#include <stdbool.h>

#include "agent/http.h"

struct agent;
struct fsm_pool;

/* Handle req when its path is a data-plane path; returns false (and does
 * nothing) otherwise. */
bool users_route(struct agent *a, struct http_request *req);

/* "sip:user@host" with user and host of [A-Za-z0-9._+~-], at most 255
 * characters in all. */
bool users_sip_valid(const char *sip);

/* Shutting down: answer every pending backup sync (503) and close its
 * timer (through the agent's pending_closes). */
void users_close(struct agent *a);

/* True when this agent's store serves requests; otherwise answers 503 and
 * returns false. */
bool users_ready(struct agent *a, struct http_request *req);

#endif
