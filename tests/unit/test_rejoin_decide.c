/* Tests of agent/rejoin_decide.c: what an empty Raft directory does from
 * what the peers answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/rejoin_decide.h"

static const struct rejoin_situation member = {.bootstrap = true};
static const struct rejoin_situation joiner = {.bootstrap = false};

static const struct rejoin_answer silent = {0};
static const struct rejoin_answer empty = {.answered = true};
static const struct rejoin_answer knows = {
    .answered = true, .has_cluster = true, .knows_id = true, .term = 2};
static const struct rejoin_answer stranger = {
    .answered = true, .has_cluster = true, .term = 7};
/* a peer that bootstrapped the same list a moment ago: no leader yet */
static const struct rejoin_answer starting = {
    .answered = true, .has_cluster = true, .knows_id = true, .term = 1};

static void first_start_needs_every_answer(void **state)
{
	struct rejoin_answer a[3] = {empty, empty, empty};

	(void)state;
	assert_int_equal(rejoin_decide(&member, a, 3), REJOIN_BOOTSTRAP);
	a[1] = silent;
	assert_int_equal(rejoin_decide(&member, a, 3), REJOIN_WAIT);
	a[0] = silent;
	a[2] = silent;
	assert_int_equal(rejoin_decide(&member, a, 3), REJOIN_WAIT);
}

static void a_cluster_that_knows_the_id_means_rejoin(void **state)
{
	struct rejoin_answer a[3] = {silent, knows, empty};

	(void)state;
	assert_int_equal(rejoin_decide(&member, a, 3), REJOIN_REJOIN);
	/* one answer is enough, whoever else is silent */
	a[2] = silent;
	assert_int_equal(rejoin_decide(&member, a, 3), REJOIN_REJOIN);
	/* a joiner the cluster knows comes back the same way */
	assert_int_equal(rejoin_decide(&joiner, a, 3), REJOIN_REJOIN);
	/* an answer that did not arrive says nothing, whatever it holds */
	a[1].answered = false;
	assert_int_equal(rejoin_decide(&member, a, 3), REJOIN_WAIT);
}

static void a_cluster_without_the_id(void **state)
{
	struct rejoin_answer a[2] = {stranger, empty};

	(void)state;
	/* a bootstrap member never starts a second cluster */
	assert_int_equal(rejoin_decide(&member, a, 2), REJOIN_REJOIN);
	assert_int_equal(rejoin_decide(&joiner, a, 2), REJOIN_JOIN);
	a[1] = knows;
	assert_int_equal(rejoin_decide(&joiner, a, 2), REJOIN_REJOIN);
}

static void a_joiner_never_bootstraps(void **state)
{
	struct rejoin_answer a[2] = {empty, empty};
	struct rejoin_situation s = joiner;

	(void)state;
	assert_int_equal(rejoin_decide(&joiner, a, 2), REJOIN_WAIT);
	s.first_start = true;
	assert_int_equal(rejoin_decide(&s, a, 2), REJOIN_WAIT);
	assert_int_equal(rejoin_decide(&s, NULL, 0), REJOIN_WAIT);
}

static void nobody_to_ask(void **state)
{
	struct rejoin_situation s = member;

	(void)state;
	assert_int_equal(rejoin_decide(&s, NULL, 0), REJOIN_REFUSE);
	s.first_start = true;
	assert_int_equal(rejoin_decide(&s, NULL, 0), REJOIN_BOOTSTRAP);
	s.first_start = false;
	s.alone = true;
	assert_int_equal(rejoin_decide(&s, NULL, 0), REJOIN_BOOTSTRAP);
}

static void first_start_flag_does_not_override_a_cluster(void **state)
{
	struct rejoin_situation s = member;
	struct rejoin_answer a[2] = {knows, empty};

	(void)state;
	s.first_start = true;
	assert_int_equal(rejoin_decide(&s, a, 2), REJOIN_REJOIN);
	a[0] = silent;
	assert_int_equal(rejoin_decide(&s, a, 2), REJOIN_WAIT);
}

static void a_first_start_under_way_is_no_cluster(void **state)
{
	struct rejoin_answer a[2] = {starting, empty};

	(void)state;
	/* the same bootstrap entry: bootstrapping too is the first start */
	assert_int_equal(rejoin_decide(&member, a, 2), REJOIN_BOOTSTRAP);
	a[1] = starting;
	a[1].term = 0;
	assert_int_equal(rejoin_decide(&member, a, 2), REJOIN_BOOTSTRAP);
	a[1] = silent;
	assert_int_equal(rejoin_decide(&member, a, 2), REJOIN_WAIT);
	/* once it elected a leader (term 2 and more) it is a cluster */
	a[1] = starting;
	a[1].term = 2;
	assert_int_equal(rejoin_decide(&member, a, 2), REJOIN_REJOIN);
	/* a joiner has nothing to join yet */
	a[1].term = 1;
	assert_int_equal(rejoin_decide(&joiner, a, 2), REJOIN_WAIT);
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(rejoin_decision_name(REJOIN_WAIT), "wait");
	assert_string_equal(rejoin_decision_name(REJOIN_BOOTSTRAP),
			    "bootstrap");
	assert_string_equal(rejoin_decision_name(REJOIN_REJOIN), "rejoin");
	assert_string_equal(rejoin_decision_name(REJOIN_JOIN), "join");
	assert_string_equal(rejoin_decision_name(REJOIN_REFUSE), "refuse");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_start_needs_every_answer),
	    cmocka_unit_test(a_cluster_that_knows_the_id_means_rejoin),
	    cmocka_unit_test(a_cluster_without_the_id),
	    cmocka_unit_test(a_joiner_never_bootstraps),
	    cmocka_unit_test(nobody_to_ask),
	    cmocka_unit_test(first_start_flag_does_not_override_a_cluster),
	    cmocka_unit_test(a_first_start_under_way_is_no_cluster),
	    cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
