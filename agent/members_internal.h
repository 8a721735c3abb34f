/* members_internal: what the two parts of the members module (members.c,
 * members_lease.c) call of each other. Not part of the module's
 * interface: only those files include it. */
#ifndef POOLPAIR_AGENT_MEMBERS_INTERNAL_H
#define POOLPAIR_AGENT_MEMBERS_INTERNAL_H

#include <stdbool.h>

struct members;

/* Every tick, leader true when this agent leads: the leader starts a
 * barrier when none is in flight and takes what its echoes prove; an agent
 * that does not lead forgets its echoes and proofs. */
void members_lease_tick(struct members *m, bool leader);

#endif
