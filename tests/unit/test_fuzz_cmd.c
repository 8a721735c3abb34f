/* Tests of fuzz/fuzz_cmd.c, the command builders and the populated state
 * the fuzz targets and the seed corpus start from, built here with the
 * project's own compiler (the fuzz targets build only with clang): the
 * populated state is what its comment says, and every seed command
 * decodes. A length read before the builder that sets it (an argument
 * evaluated before another of the same call: an order C leaves open, and
 * gcc's differs from clang's) makes the populate abort here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control.pb-c.h"
#include "fuzz/fuzz_cmd.h"

static void test_populate(void **state)
{
	struct fsm *f = calloc(1, sizeof *f);
	const struct fsm_pool *p;

	(void)state;
	assert_non_null(f);
	fsm_init(f);
	fuzz_state_populate(f); /* aborts on a refused command */
	assert_int_equal(f->n_sites, 4);
	assert_int_equal(f->n_pools, 5);
	assert_int_equal(f->n_members, 3);
	assert_int_equal(f->n_sbas, 1);
	assert_string_equal(f->cms_active, "pool-east");
	assert_string_equal(f->policy.failover, "auto");
	p = fsm_pool_find(f, "pool-east");
	assert_non_null(p);
	assert_string_equal(p->pair, "pool-west");
	p = fsm_pool_find(f, "pool-std-e");
	assert_non_null(p);
	assert_int_equal(p->state, FSM_STATE_RECOVERING);
	assert_true(p->paused);
	/* every populate command was accepted: none refused in the history */
	for (uint64_t s = 1; s <= f->decisions; s++)
		assert_int_equal(f->history[(s - 1) % FSM_HISTORY].code,
				 FSM_OK);
	free(f);
}

struct seen {
	unsigned n;
	unsigned bad;
};

static void on_seed(void *arg, const char *name, const void *buf, size_t len)
{
	struct seen *s = arg;
	Poolpair__Command *c = poolpair__command__unpack(NULL, len, buf);

	s->n++;
	if (c == NULL || c->op_case == POOLPAIR__COMMAND__OP__NOT_SET) {
		print_error("seed %s does not decode\n", name);
		s->bad++;
	}
	poolpair__command__free_unpacked(c, NULL);
}

static void test_seeds_decode(void **state)
{
	struct seen s = {0};

	(void)state;
	fuzz_seed_commands(on_seed, &s);
	assert_true(s.n >= 30);
	assert_int_equal(s.bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_populate),
	    cmocka_unit_test(test_seeds_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
