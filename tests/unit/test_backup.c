/* Tests of agent/backup.c: a stream's row of the backup status from its
 * sender figures (state, position, the seed of the pair's copy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/backup.h"

static struct backup_row row_of(const char *user_set, int lane,
				enum sender_state state)
{
	struct backup_row row;

	memset(&row, 0, sizeof row);
	snprintf(row.st.user_set, sizeof row.st.user_set, "%s", user_set);
	row.st.lane = lane;
	row.st.state = state;
	return row;
}

static const char *str(json_t *o, const char *key)
{
	assert_true(json_is_string(json_object_get(o, key)));
	return json_string_value(json_object_get(o, key));
}

/* The CMS taken over from the lost pool: the 3 records received from it
 * (applied), none written here since, the seed of the pair's copy ended
 * at F = 3: HEAD is not below ACKED. */
static void test_position_of_a_set_taken_over(void **state)
{
	struct backup_row row = row_of("cms", 0, SENDER_STREAMING);
	json_t *o;

	(void)state;
	row.st.head_seq = 0;
	row.st.applied_seq = 3;
	row.st.acked_seq = 3;
	assert_int_equal(backup_row_figures(&row, 1000), 0);
	assert_string_equal(row.category, "cms");
	assert_int_equal(row.st.head_seq, 3);
	assert_string_equal(row.state, "steady");
	o = backup_row_json("pool-west", "pool-east", &row);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "head_seq")), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "acked_seq")),
			 3);
	assert_null(json_object_get(o, "seeding"));
	json_decref(o);
	/* written here since: its own head */
	row = row_of("cms", 0, SENDER_STREAMING);
	row.st.head_seq = 9;
	row.st.applied_seq = 3;
	row.st.acked_seq = 9;
	backup_row_figures(&row, 1000);
	assert_int_equal(row.st.head_seq, 9);
	/* the CMS has no content row */
	row = row_of("cms", 1, SENDER_STREAMING);
	assert_int_equal(backup_row_figures(&row, 1000), 1);
}

/* A stream seeding the pair's (empty) copy: "seeding", with how far,
 * never "final" with lag 0. */
static void test_seeding_stream(void **state)
{
	struct backup_row row = row_of("pool-west", 0, SENDER_STREAMING);
	json_t *o;

	(void)state;
	row.st.head_seq = 400;
	row.st.acked_seq = 400;
	row.st.seeding = true;
	row.st.seed_from_seq = 400;
	row.st.seed_items = 120;
	row.st.seed_items_total = 200;
	row.st.seed_bytes = 4560;
	row.st.seed_bytes_total = 7600;
	row.st.lag_records = 80; /* dataplane_seed_lag() */
	assert_int_equal(backup_row_figures(&row, 1000), 0);
	assert_string_equal(row.category, "user_data");
	assert_string_equal(row.state, "seeding");
	o = backup_row_json("pool-west", "pool-east", &row);
	assert_string_equal(str(o, "state"), "seeding");
	assert_string_equal(str(o, "connection"), "streaming");
	assert_true(json_is_true(json_object_get(o, "seeding")));
	assert_int_equal(json_integer_value(json_object_get(o, "seed_items")),
			 120);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "seed_items_total")), 200);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "seed_bytes_total")), 7600);
	json_decref(o);
	/* the seed cut (not connected): records left, not connected */
	row.st.state = SENDER_BACKOFF;
	backup_row_figures(&row, 1000);
	assert_string_equal(row.state, "error");
	o = backup_row_json("pool-west", "pool-east", &row);
	assert_true(json_is_true(json_object_get(o, "seeding")));
	json_decref(o);
	/* no seed, nothing left, not connected: final */
	row = row_of("pool-west", 0, SENDER_BACKOFF);
	backup_row_figures(&row, 1000);
	assert_string_equal(row.state, "final");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_position_of_a_set_taken_over),
	    cmocka_unit_test(test_seeding_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
