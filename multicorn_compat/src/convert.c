/*
 * convert.c: values between PostgreSQL and Python, in the forms multicorn2 uses.
 *
 * Into Python (qual values, insert/update values; multicorn2 src/python.c datumToPython):
 *   bytea -> bytes; text, varchar -> str; char(n) -> str without trailing blanks;
 *   numeric -> float; date -> datetime.date; timestamp -> naive datetime.datetime
 *   (whole seconds); int4 -> int; arrays -> list of converted elements;
 *   every other type (int2, int8, float4, float8, bool, timestamptz, json, uuid, ...)
 *   -> its PostgreSQL text output as str ('t', '2024-01-01 00:00:00+00', ...).
 *
 * Out of Python (rows from execute(), RETURNING; multicorn2 pyobjectToCString):
 *   None -> NULL; numbers (int, float, bool, Decimal) -> str(value); str -> text;
 *   bytes -> raw bytes; list/tuple -> '{...}' array literal for array columns, str(value)
 *   otherwise; dict -> 'k=>v' pairs (so a dict for a json column fails, as in multicorn2);
 *   date/datetime -> isoformat(); anything else -> str(value).  The text is then given to
 *   the column type's input function; text and bytea take it as is.  Fast paths for exact
 *   int, float (float8), bool, str (text, varchar), datetime (timestamp, timestamptz) and date
 *   produce the same Datum without the round trip through text.  Unlike multicorn2, a dict or
 *   list for a jsonb column is that JSON value, built directly (jsonb.c).
 */
#include "multicorn_compat.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Python's datetime.h and PostgreSQL's utils/datetime.h share the guard DATETIME_H. */
#undef DATETIME_H
#include <datetime.h>

void
mc_convert_init(void)
{
	PyDateTime_IMPORT;
	if (PyDateTimeAPI == NULL)
		py_raise_error(ERROR, "importing the datetime C API");
}

/* ------------------------------------------------------------------------
 * Relation metadata
 * ------------------------------------------------------------------------ */

RelationIO *
relation_io_create(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	RelationIO *rio = palloc0(sizeof(RelationIO));
	int			i;

	rio->relname = pstrdup(RelationGetRelationName(rel));
	rio->natts = desc->natts;
	rio->columns = palloc0(sizeof(ColumnIO) * desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnIO   *col = &rio->columns[i];
		Oid			infunc;

		col->dropped = att->attisdropped;
		if (col->dropped)
			continue;
		col->name = pstrdup(NameStr(att->attname));
		col->attnum = att->attnum;
		col->typoid = att->atttypid;
		col->typmod = att->atttypmod;
		col->ndims = att->attndims > 0 ? att->attndims :
			(type_is_array(att->atttypid) ? 1 : 0);
		getTypeInputInfo(att->atttypid, &infunc, &col->ioparam);
		fmgr_info(infunc, &col->infunc);
		col->pyname = py_str_from_server(col->name);
		if (col->pyname == NULL)
			py_raise_error(ERROR, "converting column name \"%s\"", col->name);
		PyUnicode_InternInPlace(&col->pyname);
	}
	return rio;
}

void
relation_io_release(RelationIO *rio)
{
	int			i;

	for (i = 0; i < rio->natts; i++)
		Py_CLEAR(rio->columns[i].pyname);
	Py_CLEAR(rio->held_value);
}

/* ------------------------------------------------------------------------
 * PostgreSQL -> Python
 * ------------------------------------------------------------------------ */

static PyObject *
output_text_to_python(Datum value, Oid typoid)
{
	Oid			outfunc;
	bool		isvarlena;
	char	   *text;
	PyObject   *result;

	getTypeOutputInfo(typoid, &outfunc, &isvarlena);
	text = OidOutputFunctionCall(outfunc, value);
	result = py_str_from_server(text);
	pfree(text);
	return result;
}

static PyObject *
array_to_python(Datum value, Oid elemtype)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems,
				i;
	PyObject   *list;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &nulls, &nelems);
	list = PyList_New(nelems);
	if (list == NULL)
		return NULL;
	for (i = 0; i < nelems; i++)
	{
		PyObject   *item;

		if (nulls[i])
		{
			Py_INCREF(Py_None);
			item = Py_None;
		}
		else if ((item = datum_to_python(elems[i], elemtype)) == NULL)
		{
			Py_DECREF(list);
			return NULL;
		}
		PyList_SET_ITEM(list, i, item);
	}
	return list;
}

PyObject *
datum_to_python(Datum value, Oid typoid)
{
	switch (typoid)
	{
		case BYTEAOID:
			{
				bytea	   *b = DatumGetByteaPP(value);

				return PyBytes_FromStringAndSize(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
		case TEXTOID:
		case VARCHAROID:
			{
				char	   *s = TextDatumGetCString(value);
				PyObject   *result = py_str_from_server(s);

				pfree(s);
				return result;
			}
		case BPCHAROID:
			{
				char	   *s = TextDatumGetCString(value);
				int			len = strlen(s);
				PyObject   *result;

				while (len > 0 && s[len - 1] == ' ')
					s[--len] = '\0';
				result = py_str_from_server(s);
				pfree(s);
				return result;
			}
		case NUMERICOID:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));
				PyObject   *str = PyUnicode_FromString(s);
				PyObject   *result = str ? PyFloat_FromString(str) : NULL;

				Py_XDECREF(str);
				pfree(s);
				return result;
			}
		case INT4OID:
			return PyLong_FromLong(DatumGetInt32(value));
		case DATEOID:
			{
				DateADT		date = DatumGetDateADT(value);
				int			year,
							month,
							day;

				if (DATE_NOT_FINITE(date))
					break;
				j2date(date + POSTGRES_EPOCH_JDATE, &year, &month, &day);
				if (year < 1 || year > 9999)
					break;
				return PyDate_FromDate(year, month, day);
			}
		case TIMESTAMPOID:
			{
				Timestamp	ts = DatumGetTimestamp(value);
				struct pg_tm tm;
				fsec_t		fsec;

				/* multicorn2 drops the fractional seconds; so do we. */
				if (TIMESTAMP_NOT_FINITE(ts) ||
					timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
					tm.tm_year < 1 || tm.tm_year > 9999)
					break;
				return PyDateTime_FromDateAndTime(tm.tm_year, tm.tm_mon, tm.tm_mday,
												  tm.tm_hour, tm.tm_min, tm.tm_sec, 0);
			}
		default:
			{
				Oid			elemtype = get_element_type(typoid);

				if (OidIsValid(elemtype) && get_typlen(typoid) == -1)
					return array_to_python(value, elemtype);
			}
			break;
	}
	/* infinity, out-of-Python-range dates, and every other type: text output */
	return output_text_to_python(value, typoid);
}

PyObject *
slot_to_python_dict(RelationIO *rio, TupleTableSlot *slot)
{
	PyObject   *dict = PyDict_New();
	int			i;

	if (dict == NULL)
		py_raise_error(ERROR, "building a row for Python");
	slot_getallattrs(slot);
	for (i = 0; i < rio->natts && i < slot->tts_tupleDescriptor->natts; i++)
	{
		ColumnIO   *col = &rio->columns[i];
		PyObject   *item;

		if (col->dropped)
			continue;
		if (slot->tts_isnull[i])
		{
			Py_INCREF(Py_None);
			item = Py_None;
		}
		else
			item = datum_to_python(slot->tts_values[i], col->typoid);
		if (item == NULL || PyDict_SetItem(dict, col->pyname, item) != 0)
		{
			Py_XDECREF(item);
			Py_DECREF(dict);
			py_raise_error(ERROR, "converting column \"%s\" of foreign table \"%s\" for Python",
						   col->name, rio->relname);
		}
		Py_DECREF(item);
	}
	return dict;
}

/* ------------------------------------------------------------------------
 * Python -> PostgreSQL
 * ------------------------------------------------------------------------ */

static void
append_quoted(StringInfo buf, const char *s, Py_ssize_t len, bool quote)
{
	Py_ssize_t	i;

	if (!quote)
	{
		appendBinaryStringInfo(buf, s, len);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (i = 0; i < len; i++)
	{
		if (s[i] == '"' || s[i] == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, s[i]);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Where a value goes.  Error messages name it; it is formatted only when one is raised,
 * because formatting it for every value was a measurable share of a scan.
 */
typedef struct ValueTarget
{
	const RelationIO *rio;
	const ColumnIO *col;
} ValueTarget;

static char *
target_name(const ValueTarget *to)
{
	return psprintf("column \"%s\" of foreign table \"%s\"", to->col->name, to->rio->relname);
}

/* str(obj), or obj.isoformat() for dates; appended with array quoting if asked. */
static void
append_method_result(StringInfo buf, PyObject *obj, bool isoformat, bool quote, const ValueTarget *to)
{
	PyHold	   *held = py_hold(isoformat ? PyObject_CallMethod(obj, "isoformat", NULL) : PyObject_Str(obj));
	PyObject   *str = held->obj;
	const char *s;
	Py_ssize_t	len;

	if (str == NULL)
		py_raise_error(ERROR, "converting a Python %s value for %s", Py_TYPE(obj)->tp_name, target_name(to));
	if (!PyUnicode_Check(str))
	{
		py_release(held);
		ereport(ERROR, (errmsg("isoformat() of a Python %s did not return a str (%s)",
							   Py_TYPE(obj)->tp_name, target_name(to))));
	}
	/* may raise an ERROR (a character the server encoding lacks): str is held */
	s = py_as_server_str(str, &len);
	if (s == NULL)
	{
		py_release(held);
		py_raise_error(ERROR, "encoding a Python %s value for %s", Py_TYPE(obj)->tp_name, target_name(to));
	}
	append_quoted(buf, s, len, quote);
	py_release(held);
}

/* The PostgreSQL text form of obj, built as multicorn2's pyobjectToCString does. */
static void
python_to_text(StringInfo buf, PyObject *obj, int ndims, bool quote, const ValueTarget *to)
{
	/* nested (even self-referencing) dicts recurse here: stop with an ERROR, not a crash */
	check_stack_depth();
	if (obj == Py_None)
	{
		/* multicorn2 writes nothing here (an invalid array); NULL is what was meant */
		appendStringInfoString(buf, "NULL");
		return;
	}
	if (PyNumber_Check(obj))
	{
		append_method_result(buf, obj, false, false, to);
		return;
	}
	if (PyUnicode_Check(obj))
	{
		Py_ssize_t	len;
		const char *s = py_as_server_str(obj, &len);

		if (s == NULL)
			py_raise_error(ERROR, "encoding a Python str for %s", target_name(to));
		append_quoted(buf, s, len, quote);
		return;
	}
	if (PyBytes_Check(obj))
	{
		const char *bytes = PyBytes_AS_STRING(obj);
		Py_ssize_t	len = PyBytes_GET_SIZE(obj);

		/*
		 * Raw bytes become the column's text: outside bytea they must be valid in the
		 * server encoding (no NUL), or text columns would store corrupt values.
		 */
		if (to->col->typoid != BYTEAOID && to->col->typoid != BYTEAARRAYOID &&
			!pg_verifymbstr(bytes, len, true))
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("Python bytes for %s are not valid %s text",
							target_name(to), GetDatabaseEncodingName()),
					 errhint("Decode them to str, or use a bytea column.")));
		append_quoted(buf, bytes, len, quote);
		return;
	}
	if (PySequence_Check(obj))
	{
		PyHold	   *seq;
		Py_ssize_t	i,
					n;

		if (ndims == 0)
		{
			append_method_result(buf, obj, false, quote, to);
			return;
		}

		/*
		 * A tuple holds the items while their __str__ runs (it could shrink a list); the
		 * hold releases it if converting an item raises an ERROR.
		 */
		seq = py_hold(PySequence_Tuple(obj));
		if (seq->obj == NULL)
			py_raise_error(ERROR, "reading a Python sequence for %s", target_name(to));
		n = PyTuple_GET_SIZE(seq->obj);
		appendStringInfoChar(buf, '{');
		for (i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoString(buf, ", ");
			python_to_text(buf, PyTuple_GET_ITEM(seq->obj, i), ndims - 1, true, to);
		}
		appendStringInfoChar(buf, '}');
		py_release(seq);
		return;
	}
	if (PyMapping_Check(obj))
	{
		/* released by the hold if converting a key or value raises an ERROR */
		PyHold	   *items = py_hold(PyMapping_Items(obj));
		Py_ssize_t	i,
					n;

		if (items->obj == NULL)
			py_raise_error(ERROR, "reading a Python mapping for %s", target_name(to));
		/* the items list is ours alone: converting cannot change it */
		n = PyList_GET_SIZE(items->obj);
		for (i = 0; i < n; i++)
		{
			PyObject   *pair = PyList_GET_ITEM(items->obj, i);

			/* a dict subclass's items() may return anything: check before indexing */
			if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
			{
				py_release(items);
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("items() of a Python %s must give (key, value) pairs, for %s",
								Py_TYPE(obj)->tp_name, target_name(to))));
			}
			if (i > 0)
				appendStringInfoString(buf, ", ");
			python_to_text(buf, PyTuple_GET_ITEM(pair, 0), 0, true, to);
			appendStringInfoString(buf, "=>");
			python_to_text(buf, PyTuple_GET_ITEM(pair, 1), 0, true, to);
		}
		py_release(items);
		return;
	}
	append_method_result(buf, obj, PyDate_Check(obj), quote, to);
}

/*
 * An exact datetime.datetime as timestamp or timestamptz, computed as timestamp_in and
 * timestamptz_in compute it from its isoformat(): the local fields, minus the UTC offset of an
 * aware value, or for a naive one the session TimeZone's offset at that local time (timestamp
 * ignores offsets), rounded to the column's precision.  false (the text path) where that text
 * would not simply parse: an offset with a fraction of a second or beyond PostgreSQL's
 * +-15:59:59, or a tzinfo whose utcoffset() fails (the text path reports it).
 */
static bool
datetime_fast_datum(ColumnIO *col, PyObject *obj, Datum *result)
{
	struct pg_tm tm;
	fsec_t		fsec = PyDateTime_DATE_GET_MICROSECOND(obj);
	int			tz = 0;			/* seconds west of UTC, PostgreSQL's sign */
	bool		aware = false;
	Timestamp	ts;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = PyDateTime_GET_YEAR(obj);
	tm.tm_mon = PyDateTime_GET_MONTH(obj);
	tm.tm_mday = PyDateTime_GET_DAY(obj);
	tm.tm_hour = PyDateTime_DATE_GET_HOUR(obj);
	tm.tm_min = PyDateTime_DATE_GET_MINUTE(obj);
	tm.tm_sec = PyDateTime_DATE_GET_SECOND(obj);
	if (PyDateTime_DATE_GET_TZINFO(obj) == PyDateTime_TimeZone_UTC)
		aware = true;			/* its utcoffset() is always timedelta(0): no call needed */
	else if (PyDateTime_DATE_GET_TZINFO(obj) != Py_None)
	{
		PyObject   *offset = PyObject_CallMethod(obj, "utcoffset", NULL);

		if (offset == NULL)
			return false;
		if (PyDelta_Check(offset))
		{
			long		seconds = PyDateTime_DELTA_GET_DAYS(offset) * (long) SECS_PER_DAY +
				PyDateTime_DELTA_GET_SECONDS(offset);
			bool		whole = PyDateTime_DELTA_GET_MICROSECONDS(offset) == 0;

			Py_DECREF(offset);
			if (!whole || seconds <= -TZDISP_LIMIT || seconds >= TZDISP_LIMIT)
				return false;
			tz = (int) -seconds;
			aware = true;
		}
		else
			Py_DECREF(offset);
	}
	if (col->typoid == TIMESTAMPTZOID && !aware)
		tz = DetermineTimeZoneOffset(&tm, session_timezone);
	if (tm2timestamp(&tm, fsec, col->typoid == TIMESTAMPTZOID ? &tz : NULL, &ts) != 0)
		return false;			/* out of range: the input function says so */
	AdjustTimestampForTypmod(&ts, col->typmod);
	*result = TimestampGetDatum(ts);
	return true;
}

/*
 * An exact int for a timestamptz column: UNIX seconds (multicorn.TIMESTAMPTZ_FROM_UNIX_SECONDS),
 * the instant to_timestamp(v) gives, where the column can hold it; false (the text path, whose
 * timestamptz_in refuses the digits as before) beyond that.
 */
static bool
unix_seconds_datum(ColumnIO *col, PyObject *obj, Datum *result)
{
	int			overflow;
	long long	v = PyLong_AsLongLongAndOverflow(obj, &overflow);
	/* seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 */
	const int64 epoch_shift = (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	Timestamp	ts;

	if (overflow || (v == -1 && PyErr_Occurred()))
	{
		PyErr_Clear();
		return false;
	}
	/* the range of timestamptz, in seconds (no product below can overflow within it) */
	if (v < (MIN_TIMESTAMP / USECS_PER_SEC) + epoch_shift || v > (END_TIMESTAMP / USECS_PER_SEC) + epoch_shift - 1)
		return false;
	ts = (Timestamp) ((int64) v - epoch_shift) * USECS_PER_SEC;
	if (!IS_VALID_TIMESTAMP(ts))
		return false;
	AdjustTimestampForTypmod(&ts, col->typmod);
	*result = TimestampGetDatum(ts);
	return true;
}

/*
 * The Datum for a fast-path Python value, or false when the text path must be used.  Each
 * gives what the column's input function gives for the value's text (tested side by side).
 */
static bool
python_fast_datum(ColumnIO *col, PyObject *obj, Datum *result)
{
	switch (col->typoid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			if (PyLong_CheckExact(obj))
			{
				int			overflow;
				long long	v = PyLong_AsLongLongAndOverflow(obj, &overflow);

				if (overflow || (v == -1 && PyErr_Occurred()))
				{
					PyErr_Clear();
					return false;	/* the input function reports "out of range" */
				}
				if (col->typoid == INT8OID)
					*result = Int64GetDatum((int64) v);
				else if (col->typoid == INT4OID && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
					*result = Int32GetDatum((int32) v);
				else if (col->typoid == INT2OID && v >= PG_INT16_MIN && v <= PG_INT16_MAX)
					*result = Int16GetDatum((int16) v);
				else
					return false;
				return true;
			}
			return false;
		case FLOAT8OID:
			/* float8in(repr(x)) == x: repr round-trips exactly (inf, nan and -0.0 included) */
			if (PyFloat_CheckExact(obj))
			{
				*result = Float8GetDatum(PyFloat_AS_DOUBLE(obj));
				return true;
			}
			return false;
		case BOOLOID:
			if (PyBool_Check(obj))
			{
				*result = BoolGetDatum(obj == Py_True);
				return true;
			}
			return false;
		case TEXTOID:
		case VARCHAROID:
			if (PyUnicode_CheckExact(obj))
			{
				Py_ssize_t	len;
				const char *s = py_as_server_str(obj, &len);

				if (s == NULL)
					return false;	/* the text path reports the encoding error */
				/* no more bytes than varchar(n) allows characters: varcharin takes it as is */
				if (col->typoid == VARCHAROID && col->typmod >= (int32) VARHDRSZ &&
					len > col->typmod - VARHDRSZ)
					return false;
				*result = PointerGetDatum(cstring_to_text_with_len(s, len));
				return true;
			}
			return false;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			if (col->typoid == TIMESTAMPTZOID && PyLong_CheckExact(obj))
				return unix_seconds_datum(col, obj, result);
			/* a subclass may format itself otherwise: only the exact type */
			return PyDateTime_CheckExact(obj) && datetime_fast_datum(col, obj, result);
		case DATEOID:
			if (PyDate_CheckExact(obj))
			{
				*result = DateADTGetDatum(date2j(PyDateTime_GET_YEAR(obj), PyDateTime_GET_MONTH(obj),
												 PyDateTime_GET_DAY(obj)) - POSTGRES_EPOCH_JDATE);
				return true;
			}
			return false;
		default:
			return false;
	}
}

/* The relation's buffer for values' text, reset for each value instead of allocated. */
static StringInfo
value_text_buffer(RelationIO *rio)
{
	if (rio->text.data == NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(GetMemoryChunkContext(rio));

		initStringInfo(&rio->text);
		MemoryContextSwitchTo(oldcontext);
	}
	else
		resetStringInfo(&rio->text);
	return &rio->text;
}

/* A dict or list for a jsonb column, built directly (jsonb.c); errors name the column. */
static Datum
jsonb_datum(RelationIO *rio, ColumnIO *col, PyObject *obj)
{
	Datum		result;
	MemoryContext oldcontext = CurrentMemoryContext;

	PG_TRY();
	{
		result = python_to_jsonb(obj);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("invalid value for column \"%s\" of foreign table \"%s\": %s",
						col->name, rio->relname, edata->message),
				 errdetail("Python returned a %s value%s%s", Py_TYPE(obj)->tp_name,
						   edata->detail ? ": " : "", edata->detail ? edata->detail : ""),
				 edata->hint ? errhint("%s", edata->hint) : 0));
	}
	PG_END_TRY();
	return result;
}

static Datum
python_to_datum(RelationIO *rio, ColumnIO *col, PyObject *obj)
{
	StringInfo	buf;
	Datum		result;
	MemoryContext oldcontext = CurrentMemoryContext;
	ValueTarget to = {rio, col};

	if (python_fast_datum(col, obj, &result))
		return result;
	if (col->typoid == JSONBOID && (PyDict_Check(obj) || PyList_Check(obj)))
		return jsonb_datum(rio, col, obj);
	PyErr_Clear();

	buf = value_text_buffer(rio);
	python_to_text(buf, obj, col->ndims, false, &to);

	/* text, unconstrained varchar and bytea take the bytes as they are (as multicorn2) */
	if (col->typoid == TEXTOID || col->typoid == BYTEAOID ||
		(col->typoid == VARCHAROID && col->typmod < 0))
		return PointerGetDatum(cstring_to_text_with_len(buf->data, buf->len));

	/* Re-raise input errors with the table, the column and the value in the message. */
	PG_TRY();
	{
		result = InputFunctionCall(&col->infunc, buf->data, col->ioparam, col->typmod);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		json = (col->typoid == JSONOID || col->typoid == JSONBOID);

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		if (buf->len > 200)
			strcpy(buf->data + 197, "...");
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("invalid value for column \"%s\" of foreign table \"%s\": %s",
						col->name, rio->relname, edata->message),
				 errdetail("Python returned %s value: %s", Py_TYPE(obj)->tp_name, buf->data),
				 (json && (PyDict_Check(obj) || PyList_Check(obj))) ?
				 errhint("multicorn does not serialize Python objects for json/jsonb columns: return JSON text (json.dumps(value)).") :
				 (edata->hint ? errhint("%s", edata->hint) : 0)));
	}
	PG_END_TRY();
	return result;
}

static void
set_column(RelationIO *rio, TupleTableSlot *slot, int i, PyObject *value)
{
	if (value == NULL || value == Py_None)
	{
		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
	}
	else
	{
		slot->tts_values[i] = python_to_datum(rio, &rio->columns[i], value);
		slot->tts_isnull[i] = false;
	}
}

/*
 * Fill a cleared virtual slot from one item of execute()/insert()/update().
 * Dicts may omit columns (NULL); sequences hold every column in table order.
 * The caller keeps a reference to row, so an ERROR here leaks nothing.
 */
void
python_row_to_slot(RelationIO *rio, PyObject *row, TupleTableSlot *slot)
{
	int			i;

	if (PyDict_Check(row))
	{
		for (i = 0; i < rio->natts; i++)
		{
			PyObject   *value;

			if (rio->columns[i].dropped)
			{
				slot->tts_isnull[i] = true;
				continue;
			}
			value = PyDict_GetItemWithError(row, rio->columns[i].pyname);
			if (value == NULL && PyErr_Occurred())
				py_raise_error(ERROR, "reading column \"%s\" from a row of foreign table \"%s\"",
							   rio->columns[i].name, rio->relname);

			/*
			 * The dict's reference is borrowed and converting runs Python (__str__,
			 * isoformat) that may take the value out of the dict: hold it meanwhile
			 * (released by relation_io_release if the conversion fails).
			 */
			Py_XINCREF(value);
			rio->held_value = value;
			set_column(rio, slot, i, value);
			Py_CLEAR(rio->held_value);
		}
	}
	else if (PySequence_Check(row))
	{
		/*
		 * A tuple (the row itself when it is one) holds its items: converting runs
		 * Python that could shrink a list row under us.
		 */
		PyObject   *volatile seq = PySequence_Tuple(row);

		if (seq == NULL)
			py_raise_error(ERROR, "reading a row of foreign table \"%s\"", rio->relname);
		PG_TRY();
		{
			Py_ssize_t	n = PyTuple_GET_SIZE(seq),
						j = 0;

			for (i = 0; i < rio->natts; i++)
			{
				if (rio->columns[i].dropped)
				{
					slot->tts_isnull[i] = true;
					continue;
				}
				if (j >= n)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
							 errmsg("a row of foreign table \"%s\" has %zd values, but the table has more columns",
									rio->relname, n),
							 errhint("Return a sequence with one value per column, in table order, or a dict.")));
				set_column(rio, slot, i, PyTuple_GET_ITEM(seq, j));
				j++;
			}
		}
		PG_FINALLY();
		{
			Py_DECREF(seq);
		}
		PG_END_TRY();
	}
	else if (PyMapping_Check(row))
	{
		for (i = 0; i < rio->natts; i++)
		{
			PyObject   *value;

			if (rio->columns[i].dropped)
			{
				slot->tts_isnull[i] = true;
				continue;
			}
			value = PyObject_GetItem(row, rio->columns[i].pyname);
			if (value == NULL)
			{
				if (!PyErr_ExceptionMatches(PyExc_KeyError))
					py_raise_error(ERROR, "reading column \"%s\" from a row of foreign table \"%s\"",
								   rio->columns[i].name, rio->relname);
				PyErr_Clear();
			}
			PG_TRY();
			{
				set_column(rio, slot, i, value);
			}
			PG_FINALLY();
			{
				Py_XDECREF(value);
			}
			PG_END_TRY();
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("a row of foreign table \"%s\" is a Python %s", rio->relname, Py_TYPE(row)->tp_name),
				 errhint("Rows must be dicts (column name -> value) or sequences (one value per column).")));
}
