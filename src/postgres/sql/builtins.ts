// The built-in vocabulary a statement may use without the service naming it:
// side-effect-free functions, the operators and types of PostgreSQL itself,
// and the settings a client may change. Everything not listed is refused.
//
// A function here reads nothing but its arguments (or the clock or a random
// source): no file, no other session, no setting, no catalog lookup by name, no
// query in a string. Names are PostgreSQL's, in pg_catalog. An unqualified call
// is resolved by PostgreSQL in pg_catalog first, then in public — so a function
// in public with the same name and a better-matching argument type would be
// called instead; the README tells operators not to create one.

const AGGREGATES = [
  'count', 'sum', 'avg', 'min', 'max', 'array_agg', 'string_agg', 'bool_and', 'bool_or', 'every',
  'json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg', 'stddev', 'stddev_pop', 'stddev_samp',
  'variance', 'var_pop', 'var_samp', 'percentile_cont', 'percentile_disc', 'mode', 'bit_and', 'bit_or',
  'corr', 'covar_pop', 'covar_samp', 'regr_slope', 'regr_intercept', 'any_value',
];

const WINDOW = ['row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value'];

const TEXT = [
  'lower', 'upper', 'length', 'char_length', 'character_length', 'octet_length', 'bit_length', 'substr', 'substring',
  'btrim', 'ltrim', 'rtrim', 'trim', 'replace', 'concat', 'concat_ws', 'left', 'right', 'lpad', 'rpad', 'position',
  'strpos', 'split_part', 'initcap', 'repeat', 'reverse', 'format', 'md5', 'sha224', 'sha256', 'sha384', 'sha512',
  'encode', 'decode', 'to_char', 'to_number', 'to_date', 'to_timestamp', 'regexp_replace', 'regexp_match',
  'regexp_matches', 'regexp_split_to_array', 'regexp_split_to_table', 'regexp_like', 'regexp_count', 'regexp_substr',
  'regexp_instr', 'starts_with', 'translate', 'ascii', 'chr', 'quote_ident', 'quote_literal', 'quote_nullable',
  'overlay', 'string_to_array', 'string_to_table', 'array_to_string', 'similar_to_escape', 'like_escape', 'normalize',
  'is_normalized', 'unistr', 'casefold',
];

const NUMERIC = [
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'mod', 'power', 'pow', 'sqrt', 'cbrt', 'exp', 'ln', 'log',
  'log10', 'sign', 'div', 'width_bucket', 'random', 'pi', 'degrees', 'radians', 'sin', 'cos', 'tan', 'asin', 'acos',
  'atan', 'atan2', 'gcd', 'lcm', 'factorial', 'scale', 'min_scale', 'trim_scale',
];

const TIME = [
  'now', 'date_trunc', 'date_part', 'extract', 'age', 'make_date', 'make_time', 'make_interval', 'make_timestamp',
  'make_timestamptz', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp', 'timezone', 'isfinite',
  'justify_days', 'justify_hours', 'justify_interval', 'date_bin', 'date_add', 'date_subtract', 'to_timestamp', 'timeofday',
];

const JSON_AND_ARRAYS = [
  'json_build_object', 'jsonb_build_object', 'json_build_array', 'jsonb_build_array', 'to_json', 'to_jsonb',
  'json_object', 'jsonb_object', 'jsonb_set', 'jsonb_set_lax', 'jsonb_insert', 'json_extract_path', 'jsonb_extract_path',
  'json_extract_path_text', 'jsonb_extract_path_text', 'json_array_elements', 'jsonb_array_elements',
  'json_array_elements_text', 'jsonb_array_elements_text', 'json_array_length', 'jsonb_array_length', 'json_each',
  'jsonb_each', 'json_each_text', 'jsonb_each_text', 'json_object_keys', 'jsonb_object_keys', 'json_typeof',
  'jsonb_typeof', 'json_strip_nulls', 'jsonb_strip_nulls', 'jsonb_pretty', 'row_to_json', 'array_to_json',
  'json_populate_record', 'jsonb_populate_record', 'json_to_record', 'jsonb_to_record', 'json_to_recordset',
  'jsonb_to_recordset', 'jsonb_path_query', 'jsonb_path_query_array', 'jsonb_path_query_first', 'jsonb_path_exists',
  'jsonb_path_match', 'array_length', 'array_upper', 'array_lower', 'array_ndims', 'array_dims', 'cardinality',
  'unnest', 'array_append', 'array_prepend', 'array_cat', 'array_position', 'array_positions', 'array_remove',
  'array_replace', 'array_fill', 'trim_array', 'generate_series', 'generate_subscripts',
];

const OTHER = ['num_nonnulls', 'num_nulls', 'gen_random_uuid', 'uuidv4', 'uuidv7'];

/** Side-effect-free functions every scope may call, by pg_catalog name. */
export const DEFAULT_FUNCTIONS: ReadonlySet<string> = new Set([...AGGREGATES, ...WINDOW, ...TEXT, ...NUMERIC, ...TIME, ...JSON_AND_ARRAYS, ...OTHER]);

/**
 * Operators by symbol. An operator is a function call PostgreSQL resolves by
 * the operand types; these are the built-in symbols (pg_catalog's), so a user
 * operator with a made-up symbol cannot smuggle a call in.
 */
export const OPERATORS: ReadonlySet<string> = new Set([
  '=', '<>', '!=', '<', '>', '<=', '>=', '+', '-', '*', '/', '%', '^', '||', '~~', '!~~', '~~*', '!~~*', '~', '~*',
  '!~', '!~*', '@>', '<@', '&&', '->', '->>', '#>', '#>>', '?', '?|', '?&', '@@', '@?', '#-', '|/', '||/', '@', '&',
  '|', '#', '<<', '>>', '<->', '^@',
]);

/**
 * Types a value may be cast to. A cast runs the type's input or cast function:
 * for these it is PostgreSQL's own code and reads only the value. Refused on
 * purpose: reg* types (a catalog lookup by name, `'pg_authid'::regclass`), xml
 * (a parser), and every type outside pg_catalog (its cast may be any function).
 */
export const CAST_TYPES: ReadonlySet<string> = new Set([
  'bool', 'boolean', 'int2', 'int4', 'int8', 'smallint', 'integer', 'int', 'bigint', 'float4', 'float8', 'real',
  'numeric', 'decimal', 'text', 'varchar', 'char', 'bpchar', 'bytea', 'date', 'time', 'timetz', 'timestamp',
  'timestamptz', 'interval', 'uuid', 'json', 'jsonb', 'jsonpath', 'inet', 'cidr', 'macaddr', 'macaddr8', 'bit', 'varbit',
  'money', 'oid', 'name', 'tsvector', 'tsquery', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle',
  'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange', 'int4multirange', 'int8multirange',
  'nummultirange', 'tsmultirange', 'tstzmultirange', 'datemultirange', 'record', 'unknown',
]);

/**
 * Settings a client may SET, SET LOCAL, RESET and SHOW: presentation and
 * timeouts. Never: anything that changes who the session is (role), where
 * names resolve (search_path), whether it may write (*transaction_read_only),
 * how the server reads the text the gateway parsed (client_encoding,
 * standard_conforming_strings, backslash_quote), or a custom `a.b` setting
 * (row-level security policies often read those).
 */
export const SETTABLE: ReadonlySet<string> = new Set([
  'application_name', 'client_min_messages', 'datestyle', 'intervalstyle', 'timezone', 'extra_float_digits',
  'bytea_output', 'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'transaction_timeout',
  'default_transaction_isolation', 'xmloption', 'lc_messages', 'lc_monetary', 'lc_numeric', 'lc_time',
]);

/** Settings a client may also read with SHOW: what drivers ask for at connection time. */
export const SHOWABLE: ReadonlySet<string> = new Set([
  ...SETTABLE, 'server_version', 'server_version_num', 'server_encoding', 'client_encoding', 'standard_conforming_strings',
  'integer_datetimes', 'transaction_isolation', 'transaction_read_only', 'default_transaction_read_only', 'is_superuser',
  'max_identifier_length',
]);

/** Why a setting outside SETTABLE is refused, for the ones an attacker reaches for. */
export const GUARDED_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['role', 'SET ROLE would change who the session is'],
  ['session_authorization', 'SET SESSION AUTHORIZATION would change who the session is'],
  ['search_path', 'the gateway pins search_path so that every name resolves as it authorized it'],
  ['default_transaction_read_only', 'the gateway sets the read-only state of the session'],
  ['transaction_read_only', 'the gateway sets the read-only state of the session'],
  ['client_encoding', 'the gateway parses the statement as UTF-8; another encoding would make the server read other text'],
  ['standard_conforming_strings', 'the gateway parses string literals as standard; changing it would make the server read other text'],
  ['backslash_quote', 'the gateway parses string literals as standard; changing it would make the server read other text'],
]);
