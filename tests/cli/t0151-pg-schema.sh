#!/bin/sh
# t0151: the PostgreSQL migrations (schema/pg/, the shared files where portable),
# applied with psql to a fresh database as the PostgreSQL backend will: the same
# names recorded in schema_migrations, the same tables, columns and indexes as a
# SQLite `wxrecon init`, BIGINT for every integer, and an audit_log that refuses
# UPDATE, DELETE and TRUNCATE. recon_fee_to_fen on PostgreSQL against the C
# function: tests/unit/t-pg.c. Needs the server of make test-pg.
. "$(dirname "$0")/test-lib.sh"

pg_available || test_skip_all 'no PostgreSQL server (make test-pg starts one)'

DB=wxt_t0151_$$
pg_createdb $DB
q() { pg_psql $DB -c "$1"; }
lite() { sqlite3 lite.db "$1"; }

test_expect_success 'every migration applies, each in one transaction, recorded by name' '
	q "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)" &&
	sh "$SRC_ROOT/scripts/embed-schema.sh" --pg --list "$SRC_ROOT"/schema/*.sql >files &&
	test "$(wc -l <files)" = "$(ls "$SRC_ROOT"/schema/*.sql | wc -l)" &&
	while read -r f; do
		n=$(basename "$f" .sql) &&
		pg_psql $DB -1 -f "$f" -c "INSERT INTO schema_migrations VALUES ('"'"'$n'"'"', to_char(now() AT TIME ZONE '"'"'UTC'"'"', '"'"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"'"'))" ||
		return 1
	done <files
'
test_expect_success 'a SQLite init of the same tree, to compare with' '
	_vg "$WXRECON_BIN" --db lite.db init 2>/dev/null
'
test_expect_success 'schema_migrations holds the same names, in the same order' '
	lite "SELECT name FROM schema_migrations ORDER BY rowid" >expect &&
	q "SELECT name FROM schema_migrations ORDER BY name" >actual &&
	test_cmp expect actual &&
	q "SELECT count(*) FROM schema_migrations WHERE applied_at ~ '"'"'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'"'"'" >n &&
	test "$(cat n)" = "$(wc -l <expect)"
'
test_expect_success 'the same tables and views with the same columns' '
	lite "SELECT m.name || '"'"'.'"'"' || p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type IN ('"'"'table'"'"', '"'"'view'"'"') AND m.name NOT LIKE '"'"'sqlite_%'"'"'" |
		LC_ALL=C sort >expect &&
	q "SELECT table_name || '"'"'.'"'"' || column_name FROM information_schema.columns WHERE table_schema = '"'"'public'"'"'" |
		LC_ALL=C sort >actual &&
	test_cmp expect actual
'
test_expect_success 'the same indexes on the same columns (their names and their keys)' '
	lite "SELECT m.name || '"'"' '"'"' || (SELECT group_concat(name, '"'"','"'"') FROM (SELECT name FROM pragma_index_info(m.name) ORDER BY seqno)) FROM sqlite_master m WHERE m.type = '"'"'index'"'"' AND m.name NOT LIKE '"'"'sqlite_autoindex_%'"'"'" |
		LC_ALL=C sort >expect &&
	q "SELECT i.relname || '"'"' '"'"' || string_agg(a.attname, '"'"','"'"' ORDER BY k.n) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid CROSS JOIN unnest(x.indkey) WITH ORDINALITY AS k(att, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.att WHERE t.relnamespace = '"'"'public'"'"'::regnamespace AND NOT x.indisprimary AND NOT x.indisunique GROUP BY i.relname" |
		LC_ALL=C sort >actual &&
	test_cmp expect actual &&
	test "$(wc -l <actual)" -gt 20
'
test_expect_success 'the partial indexes keep their conditions' '
	q "SELECT indexname FROM pg_indexes WHERE schemaname = '"'"'public'"'"' AND indexdef LIKE '"'"'%WHERE %'"'"' ORDER BY 1" >actual &&
	lite "SELECT name FROM sqlite_master WHERE type = '"'"'index'"'"' AND sql LIKE '"'"'%WHERE %'"'"' ORDER BY 1" >expect &&
	test_cmp expect actual
'
test_expect_success 'the same unique keys and primary keys (as column lists)' '
	lite "SELECT m.name || '"'"' '"'"' || (SELECT group_concat(name, '"'"','"'"') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno)) FROM sqlite_master m, pragma_index_list(m.name) l WHERE m.type = '"'"'table'"'"' AND l.origin IN ('"'"'u'"'"', '"'"'pk'"'"')" |
		LC_ALL=C sort >expect &&
	lite "SELECT m.name || '"'"' '"'"' || p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = '"'"'table'"'"' AND p.pk = 1 AND p.type = '"'"'INTEGER'"'"' AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) p2 WHERE p2.pk = 2)" |
		LC_ALL=C sort >rowid &&
	LC_ALL=C sort -u expect rowid >expect.all &&
	q "SELECT t.relname || '"'"' '"'"' || string_agg(a.attname, '"'"','"'"' ORDER BY k.n) FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid CROSS JOIN unnest(x.indkey) WITH ORDINALITY AS k(att, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.att WHERE t.relnamespace = '"'"'public'"'"'::regnamespace AND (x.indisprimary OR x.indisunique) GROUP BY x.indexrelid, t.relname" |
		LC_ALL=C sort >actual &&
	test_cmp expect.all actual
'
test_expect_success 'every integer column is BIGINT; the rowid keys are identity columns' '
	q "SELECT table_name || '"'"'.'"'"' || column_name || '"'"' '"'"' || data_type FROM information_schema.columns WHERE table_schema = '"'"'public'"'"' AND data_type NOT IN ('"'"'bigint'"'"', '"'"'text'"'"')" >odd &&
	test_must_fail test -s odd &&
	q "SELECT table_name FROM information_schema.columns WHERE table_schema = '"'"'public'"'"' AND is_identity = '"'"'YES'"'"' ORDER BY 1" >actual &&
	lite "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = '"'"'table'"'"' AND p.name = '"'"'id'"'"' AND p.pk = 1 AND p.type = '"'"'INTEGER'"'"' ORDER BY 1" >expect &&
	test_cmp expect actual
'
test_expect_success 'the CHECK constraints hold on PostgreSQL too' '
	{ q "INSERT INTO ledger_orders (out_trade_no, amount_total, state, created_at, created_ts, updated_at) VALUES ('"'"'O1'"'"', 1, '"'"'LOST'"'"', '"'"'t'"'"', 1, '"'"'t'"'"')" 2>err; test $? != 0; } &&
	test_grep "violates check constraint" err
'
test_expect_success 'audit_log: an append gets the next id' '
	q "INSERT INTO audit_log (at, actor, event, detail, prev_hash, hash) VALUES ('"'"'a'"'"', '"'"'t'"'"', '"'"'e'"'"', '"'"'{}'"'"', '"'"'0'"'"', '"'"'h1'"'"'), ('"'"'a'"'"', '"'"'t'"'"', '"'"'e'"'"', '"'"'{}'"'"', '"'"'h1'"'"', '"'"'h2'"'"') RETURNING id" >ids &&
	printf "1\n2\n" >expect && test_cmp expect ids
'
for stmt in "UPDATE audit_log SET detail = 'x' WHERE id = 1" "DELETE FROM audit_log WHERE id = 2" "TRUNCATE audit_log"; do
	test_expect_success "audit_log is append-only: $stmt is refused" '
		{ q "$stmt" 2>err; test $? != 0; } &&
		test_grep "audit_log is append-only" err &&
		test "$(q "SELECT count(*) FROM audit_log")" = 2
	'
done
test_expect_success 'the triggers have the names SQLite gives them (and one for TRUNCATE)' '
	q "SELECT tgname FROM pg_trigger WHERE tgrelid = '"'"'audit_log'"'"'::regclass ORDER BY 1" >actual &&
	printf "audit_log_no_delete\naudit_log_no_truncate\naudit_log_no_update\n" >expect &&
	test_cmp expect actual &&
	lite "SELECT name FROM sqlite_master WHERE type = '"'"'trigger'"'"' ORDER BY 1" >lite.trg &&
	printf "audit_log_no_delete\naudit_log_no_update\n" >expect && test_cmp expect lite.trg
'
test_expect_success 'a role that does not own the schema cannot drop them (README: PostgreSQL)' '
	q "CREATE ROLE wxt_app_$$ LOGIN; GRANT SELECT, INSERT ON audit_log TO wxt_app_$$" &&
	test_when_finished "pg_psql postgres -c \"DROP OWNED BY wxt_app_$$ CASCADE\" -d $DB; pg_psql postgres -c \"DROP ROLE IF EXISTS wxt_app_$$\"" &&
	{ pg_psql $DB -c "SET ROLE wxt_app_$$; DROP TRIGGER audit_log_no_update ON audit_log" 2>err; test $? != 0; } &&
	test_grep "must be owner of" err &&
	{ pg_psql $DB -c "SET ROLE wxt_app_$$; ALTER TABLE audit_log DISABLE TRIGGER ALL" 2>err; test $? != 0; } &&
	test_grep "must be owner of" err &&
	pg_psql $DB -c "SET ROLE wxt_app_$$; INSERT INTO audit_log (at, actor, event, detail, prev_hash, hash) VALUES ('"'"'a'"'"', '"'"'t'"'"', '"'"'e'"'"', '"'"'{}'"'"', '"'"'h2'"'"', '"'"'h3'"'"')"
'
test_expect_success 'recon_day_totals_v: bigint sums, as SQLite gives integers' '
	q "SELECT string_agg(column_name || '"'"' '"'"' || data_type, '"'"','"'"' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '"'"'recon_day_totals_v'"'"'" >actual &&
	echo "mchid text,date text,bill text,payments_count bigint,payments_amount bigint,refunds_count bigint,refunds_amount bigint,fees bigint" >expect &&
	test_cmp expect actual
'
test_expect_success 'recon_fee_to_fen exists on PostgreSQL and rounds halves away from zero' '
	q "SELECT recon_fee_to_fen(499), recon_fee_to_fen(500), recon_fee_to_fen(-500), recon_fee_to_fen(-1499), recon_fee_to_fen(NULL) IS NULL" >actual &&
	echo "0|1|-1|-1|t" >expect && test_cmp expect actual
'
test_expect_success 'schema/pg has a twin for each of its files, and embed-schema says so' '
	mkdir -p fake/pg && cp "$SRC_ROOT"/schema/001_core.sql fake/ && cp "$SRC_ROOT"/schema/pg/001_core.sql fake/pg/999_orphan.sql &&
	{ sh "$SRC_ROOT/scripts/embed-schema.sh" --pg fake/001_core.sql >/dev/null 2>err; test $? = 1; } &&
	test_grep "fake/pg/999_orphan.sql has no twin fake/999_orphan.sql" err
'

test_done
