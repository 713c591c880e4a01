/*
 * embed.c: the Python interpreter inside a PostgreSQL backend.
 *
 * - One interpreter per backend, shared with PL/Python: Debian's plpython3u links the same
 *   libpython3.11, and a process can hold only one interpreter.  If PL/Python already
 *   initialised it (Py_IsInitialized) we use it.  Otherwise we load plpython3.so and
 *   register its "plpy" built-in module before Py_Initialize, because CPython ignores
 *   PyImport_AppendInittab afterwards; PL/Python then finds Python ready.  (multicorn2's
 *   _PG_init does the same.)
 * - Python exceptions become PostgreSQL errors only after the Python call has returned
 *   (py_raise_error), because ereport(ERROR) longjmps and must never unwind Python frames
 *   (src/backend/utils/error/elog.c: PG_TRY/PG_CATCH are siglongjmp based).
 * - multicorn._utils is provided from here: _log_to_postgres() and check_interrupts().
 * - py_hold(): a Python reference released with the current memory context, so that code
 *   which may raise an ERROR while it holds Python objects leaks none of them.
 */
#include "multicorn_compat.h"

#include <unistd.h>

#include "access/xact.h"
#include "common/string.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

static PyObject *format_exception_fn = NULL;	/* traceback.format_exception */
static PyObject *multicorn_module = NULL;

static void register_utils_module(void);

/* ------------------------------------------------------------------------
 * Python references held across code that may raise an ERROR
 * ------------------------------------------------------------------------ */

static void
release_hold(void *arg)
{
	Py_CLEAR(((PyHold *) arg)->obj);
}

/*
 * Takes over obj (a new reference, or NULL) until py_release() or py_unhold(), or until
 * the current memory context is reset or deleted, which an ERROR always brings about:
 * the reference is dropped whatever happens in between.
 */
PyHold *
py_hold(PyObject *obj)
{
	PyHold	   *hold = palloc(sizeof(PyHold));

	hold->obj = obj;
	hold->callback.func = release_hold;
	hold->callback.arg = hold;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &hold->callback);
	return hold;
}

/* Drop the held reference now. */
void
py_release(PyHold *hold)
{
	Py_CLEAR(hold->obj);
}

/* Give the held reference back to the caller (e.g. to pass it on with "N"). */
PyObject *
py_unhold(PyHold *hold)
{
	PyObject   *obj = hold->obj;

	hold->obj = NULL;
	return obj;
}

void
mc_python_init(void)
{
	char		plpython_path[MAXPGPATH];

	if (Py_IsInitialized() && multicorn_module != NULL)
		return;

	/*
	 * Let PL/Python initialise the interpreter when it is installed, so that
	 * plpython3u works in this backend whichever extension is used first.
	 * (multicorn2 does the same in its _PG_init.)
	 */
	snprintf(plpython_path, sizeof(plpython_path), "%s/plpython3.so", pkglib_path);
	if (!Py_IsInitialized() && access(plpython_path, R_OK) == 0)
	{
		PyObject   *(*init_plpy) (void);

		init_plpy = (PyObject *(*) (void))
			load_external_function("$libdir/plpython3", "PyInit_plpy", false, NULL);

		/*
		 * PL/Python initialises Python lazily, at its first use.  Register its
		 * "plpy" module now, as it would (plpy_main.c), since that only works
		 * before Py_Initialize.
		 */
		if (init_plpy != NULL && !Py_IsInitialized())
			PyImport_AppendInittab("plpy", init_plpy);
	}

	/* Py_InitializeEx(0): leave PostgreSQL's signal handlers alone (SIGINT is cancel). */
	if (!Py_IsInitialized())
		Py_InitializeEx(0);

	register_utils_module();

	multicorn_module = PyImport_ImportModule("multicorn");
	if (multicorn_module == NULL)
		py_raise_error(ERROR, "importing the multicorn Python package");

	if (format_exception_fn == NULL)
	{
		PyObject   *traceback = PyImport_ImportModule("traceback");

		if (traceback != NULL)
		{
			format_exception_fn = PyObject_GetAttrString(traceback, "format_exception");
			Py_DECREF(traceback);
		}
		PyErr_Clear();
	}
	mc_convert_init();
}

PyObject *
mc_multicorn_attr(const char *name)
{
	PyObject   *attr = PyObject_GetAttrString(multicorn_module, name);

	if (attr == NULL)
		py_raise_error(ERROR, "looking up multicorn.%s", name);
	return attr;
}

/* ------------------------------------------------------------------------
 * Strings between the server encoding and Python str
 * ------------------------------------------------------------------------ */

PyObject *
py_str_from_server(const char *s)
{
	char	   *utf8 = pg_server_to_any(s, strlen(s), PG_UTF8);
	PyObject   *result = PyUnicode_FromString(utf8);

	if (utf8 != s)
		pfree(utf8);
	return result;
}

/*
 * The server-encoded bytes of a Python str.  The result points into the str object
 * (valid while it lives) or is palloc'd when a conversion was needed.  Invalid bytes,
 * including NUL, are reported by pg_any_to_server as an ERROR (never inside Python).
 */
const char *
py_as_server_str(PyObject *str, Py_ssize_t *len)
{
	Py_ssize_t	size;
	const char *utf8 = PyUnicode_AsUTF8AndSize(str, &size);
	char	   *converted;

	if (utf8 == NULL)
		return NULL;
	if (memchr(utf8, '\0', size) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("a string from Python contains a NUL character, which PostgreSQL text cannot hold")));
	converted = pg_any_to_server(utf8, size, PG_UTF8);
	*len = (converted == utf8) ? size : (Py_ssize_t) strlen(converted);
	return converted;
}

/* str(obj) as a palloc'd server string; "what" names it in the error. */
char *
py_object_to_server_str(PyObject *obj, const char *what)
{
	PyHold	   *str = py_hold(PyObject_Str(obj));
	const char *s;
	Py_ssize_t	len;
	char	   *result;

	if (str->obj == NULL)
		py_raise_error(ERROR, "converting %s to a string", what);
	/* may raise an ERROR (no equivalent in the server encoding): str is held */
	s = py_as_server_str(str->obj, &len);
	if (s == NULL)
	{
		py_release(str);
		py_raise_error(ERROR, "converting %s to a string", what);
	}
	result = pnstrdup(s, len);
	py_release(str);
	return result;
}

/* ------------------------------------------------------------------------
 * Python exceptions -> PostgreSQL errors
 * ------------------------------------------------------------------------ */

/*
 * UTF-8 text from Python for a message (error, hint, detail, log line) in the server
 * encoding, palloc'd, never raising an ERROR: messages are reported from commit() and
 * rollback() callbacks too, where an ERROR would abort an abort or PANIC after a commit.
 * A character the server encoding lacks fails the conversion, and outside a transaction
 * (those callbacks) PostgreSQL refuses any conversion it has not cached; then non-ASCII
 * characters are written as \uXXXX escapes instead.
 */
static char *
message_to_server(const char *utf8)
{
	int			encoding = GetDatabaseEncoding();
	const unsigned char *p;
	StringInfoData buf;

	if (utf8 == NULL)
		return NULL;
	if (encoding == PG_UTF8 || encoding == PG_SQL_ASCII || pg_is_ascii(utf8))
		return pstrdup(utf8);
	if (IsTransactionState())
	{
		MemoryContext cxt = CurrentMemoryContext;
		char	   *volatile converted = NULL;

		PG_TRY();
		{
			converted = pg_any_to_server(utf8, strlen(utf8), PG_UTF8);
		}
		PG_CATCH();
		{
			/* only a failed conversion lands here: no state to clean up but the error */
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
		}
		PG_END_TRY();
		if (converted != NULL)
			return converted == utf8 ? pstrdup(utf8) : converted;
	}
	initStringInfo(&buf);
	for (p = (const unsigned char *) utf8; *p != '\0';)
	{
		if (*p < 0x80)
			appendStringInfoChar(&buf, (char) *p++);
		else
		{
			/* Python produced it: a complete, valid UTF-8 sequence */
			pg_wchar	code = utf8_to_unicode(p);

			appendStringInfo(&buf, code > 0xFFFF ? "\\U%08X" : "\\u%04X", (unsigned int) code);
			p += pg_utf_mblen(p);
		}
	}
	return buf.data;
}

/* str(obj) as a message in the server encoding (message_to_server), or NULL on a Python error. */
static char *
py_object_to_message(PyObject *obj)
{
	PyObject   *str = PyObject_Str(obj);
	const char *utf8 = str ? PyUnicode_AsUTF8(str) : NULL;
	char	   *copy = utf8 ? pstrdup(utf8) : NULL;

	Py_XDECREF(str);
	return copy ? message_to_server(copy) : NULL;
}

/* A str attribute of the exception as a palloc'd UTF-8 string, or NULL. */
static char *
exception_text_attr(PyObject *exc, const char *name)
{
	PyObject   *attr;
	char	   *result = NULL;

	if (!PyObject_HasAttrString(exc, name))
		return NULL;
	attr = PyObject_GetAttrString(exc, name);
	if (attr != NULL && attr != Py_None)
	{
		PyObject   *str = PyObject_Str(attr);

		if (str != NULL)
		{
			const char *utf8 = PyUnicode_AsUTF8(str);

			if (utf8 != NULL)
				result = pstrdup(utf8);
			Py_DECREF(str);
		}
	}
	Py_XDECREF(attr);
	PyErr_Clear();
	return result;
}

/* str(exc) as palloc'd UTF-8, or NULL when it is empty or fails. */
static char *
exception_str(PyObject *value)
{
	PyObject   *str = value ? PyObject_Str(value) : NULL;
	const char *utf8 = str ? PyUnicode_AsUTF8(str) : NULL;
	char	   *text = (utf8 && utf8[0] != '\0') ? pstrdup(utf8) : NULL;

	Py_XDECREF(str);
	PyErr_Clear();
	return text;
}

/* The class name of exception type, as Python's __name__ ("KeyError", "ApiError"). */
static char *
exception_type_name(PyObject *type)
{
	PyObject   *name = PyObject_GetAttrString(type, "__name__");
	const char *utf8 = (name && PyUnicode_Check(name)) ? PyUnicode_AsUTF8(name) : NULL;
	char	   *result = pstrdup(utf8 ? utf8 : ((PyTypeObject *) type)->tp_name);

	Py_XDECREF(name);
	PyErr_Clear();
	return result;
}

/*
 * Is this what log_to_postgres(..., ERROR) raises?  As multicorn2 (src/errors.c):
 * any exception whose `_is_multicorn_exception` attribute is true is reported with its
 * `message`, `hint` and `detail`; every other one as "Error in python: <class name>"
 * with str(exc) as DETAIL.
 */
static bool
is_multicorn_exception(PyObject *value)
{
	PyObject   *flag = value ? PyObject_GetAttrString(value, "_is_multicorn_exception") : NULL;
	int			truth = flag ? PyObject_IsTrue(flag) : 0;

	Py_XDECREF(flag);
	PyErr_Clear();
	return truth > 0;
}

static char *
exception_traceback(PyObject *type, PyObject *value, PyObject *tb)
{
	PyObject   *lines;
	PyObject   *empty;
	PyObject   *joined = NULL;
	char	   *result = NULL;

	if (format_exception_fn == NULL)
		return NULL;
	lines = PyObject_CallFunctionObjArgs(format_exception_fn, type, value,
										 tb ? tb : Py_None, NULL);
	if (lines != NULL)
	{
		empty = PyUnicode_FromString("");
		if (empty != NULL)
		{
			joined = PyUnicode_Join(empty, lines);
			Py_DECREF(empty);
		}
		Py_DECREF(lines);
	}
	if (joined != NULL)
	{
		const char *utf8 = PyUnicode_AsUTF8(joined);

		if (utf8 != NULL)
		{
			result = pstrdup(utf8);
			/* drop the trailing newline */
			if (result[0] != '\0' && result[strlen(result) - 1] == '\n')
				result[strlen(result) - 1] = '\0';
		}
		Py_DECREF(joined);
	}
	PyErr_Clear();
	return result;
}

/* The pending Python exception as "Type: message" (palloc'd); the error is cleared. */
char *
py_fetch_error_message(void)
{
	PyObject   *type,
			   *value,
			   *tb;
	char	   *message;
	char	   *text;

	PyErr_Fetch(&type, &value, &tb);
	if (type == NULL)
		return pstrdup("unknown Python error");
	PyErr_NormalizeException(&type, &value, &tb);
	message = exception_type_name(type);
	text = exception_str(value);
	if (text != NULL)
		message = psprintf("%s: %s", message, text);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	return message_to_server(message);
}

/*
 * Report the pending Python exception at elevel, as multicorn2 does (src/errors.c):
 * - raised by log_to_postgres(..., ERROR) (or any exception with a true
 *   `_is_multicorn_exception`): its `message`, `hint` and `detail` attributes;
 * - any other: "Error in python: <class name>", DETAIL str(exc).
 * The traceback goes to the server log only (errdetail_log, as multicorn2), together
 * with `where` (what the runtime was doing).  with_context also sends `where` to the
 * client as CONTEXT; FDW methods are reported without it, as multicorn2 reports them.
 */
static void report_python_error(int elevel, bool with_context, const char *fmt, va_list fmtargs)
			pg_attribute_printf(3, 0);

static void
report_python_error(int elevel, bool with_context, const char *fmt, va_list fmtargs)
{
	PyObject   *type,
			   *value,
			   *tb;
	StringInfoData where;
	StringInfoData log_detail;
	char	   *message,
			   *hint = NULL,
			   *detail,
			   *trace = NULL,
			   *sqlstate = NULL;
	int			code = ERRCODE_INTERNAL_ERROR;

	initStringInfo(&where);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_copy(args, fmtargs);
		needed = appendStringInfoVA(&where, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&where, needed);
	}

	PyErr_Fetch(&type, &value, &tb);
	if (type == NULL)
	{
		ereport(elevel,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("Python call failed without an exception"),
				 errcontext("%s", where.data)));
		return;					/* elevel < ERROR: nothing left to report */
	}
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb != NULL && value != NULL)
		PyException_SetTraceback(value, tb);

	/* A query cancel surfaced in Python (check_interrupts): report it as PostgreSQL does. */
	if (PyErr_GivenExceptionMatches(type, PyExc_KeyboardInterrupt) && InterruptPending)
	{
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
		CHECK_FOR_INTERRUPTS();

		/*
		 * Reached when interrupts are held off (commit/rollback callbacks run under
		 * HOLD_INTERRUPTS, with elevel WARNING): the exception is already released,
		 * so report the cancel and stop here.
		 */
		ereport(elevel,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling Python call"),
				 errcontext("%s", where.data)));
		return;
	}

	if (is_multicorn_exception(value))
	{
		message = exception_text_attr(value, "message");
		if (message == NULL)
			message = exception_str(value);
		if (message == NULL)
			message = exception_type_name(type);
		hint = exception_text_attr(value, "hint");
		detail = exception_text_attr(value, "detail");
		/* An extension of ours: an optional `sqlstate` of five digits or capitals (multicorn2 has none). */
		sqlstate = exception_text_attr(value, "sqlstate");
		if (sqlstate != NULL && strlen(sqlstate) == 5 &&
			strspn(sqlstate, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
			code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4]);
	}
	else
	{
		message = psprintf("Error in python: %s", exception_type_name(type));
		detail = exception_str(value);
		trace = exception_traceback(type, value, tb);
	}
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	message = message_to_server(message);
	hint = message_to_server(hint);
	detail = message_to_server(detail);
	trace = message_to_server(trace);

	/* The server log's DETAIL: the client's, then where it happened and the traceback. */
	initStringInfo(&log_detail);
	if (detail)
		appendStringInfo(&log_detail, "%s\n", detail);
	appendStringInfoString(&log_detail, where.data);
	if (trace)
		appendStringInfo(&log_detail, "\n%s", trace);

	ereport(elevel,
			(errcode(code),
			 errmsg("%s", message),
			 hint ? errhint("%s", hint) : 0,
			 detail ? errdetail("%s", detail) : 0,
			 errdetail_log("%s", log_detail.data),
			 with_context ? errcontext("%s", where.data) : 0));
}

/* An exception raised by the FDW's own code (a method, __init__, iterating a result). */
void
py_raise_fdw_error(int elevel, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	report_python_error(elevel, false, fmt, args);
	va_end(args);
}

/* An exception raised while the runtime converts or reads what the FDW gave. */
void
py_raise_error(int elevel, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	report_python_error(elevel, true, fmt, args);
	va_end(args);
}

/* ------------------------------------------------------------------------
 * multicorn._utils
 * ------------------------------------------------------------------------ */

/*
 * _log_to_postgres(message, level=0, hint=None, detail=None)
 * Codes as in multicorn.utils.REPORT_CODES: 0 DEBUG, 1 INFO (shown as NOTICE, like
 * multicorn2), 2 WARNING.  3 and 4 never reach here through log_to_postgres (it raises
 * MulticornException instead); called directly, they raise that exception too.
 */
static PyObject *
utils_log_to_postgres(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *kwlist[] = {"message", "level", "hint", "detail", NULL};
	PyObject   *p_message,
			   *p_hint = Py_None,
			   *p_detail = Py_None;
	int			level = 0;
	int			elevel;
	char	   *message,
			   *hint = NULL,
			   *detail = NULL;
	MemoryContext oldcontext = CurrentMemoryContext;
	volatile bool failed = false;
	char	   *volatile failure = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|iOO", kwlist,
									 &p_message, &level, &p_hint, &p_detail))
		return NULL;
	if (level >= 3)
	{
		PyObject   *utils = PyImport_ImportModule("multicorn.utils");
		PyObject   *exc_class = utils ? PyObject_GetAttrString(utils, "MulticornException") : NULL;
		PyObject   *exc = exc_class ? PyObject_CallFunction(exc_class, "OiOO", p_message, level,
															p_hint, p_detail) : NULL;

		Py_XDECREF(utils);
		Py_XDECREF(exc_class);
		if (exc != NULL)
		{
			PyErr_SetObject((PyObject *) Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
		return NULL;
	}
	elevel = level == 0 ? DEBUG1 : (level == 1 ? NOTICE : WARNING);

	/* Nothing below may longjmp out: we are called from Python code. */
	PG_TRY();
	{
		message = py_object_to_message(p_message);
		if (message != NULL && p_hint != Py_None)
			hint = py_object_to_message(p_hint);
		if (message != NULL && p_detail != Py_None)
			detail = py_object_to_message(p_detail);
		if (message == NULL || PyErr_Occurred())
			failed = true;		/* str() raised: that Python exception is the result */
		else
			ereport(elevel,
					(errmsg("%s", message),
					 hint ? errhint("%s", hint) : 0,
					 detail ? errdetail("%s", detail) : 0));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		failure = edata->message;
		failed = true;
	}
	PG_END_TRY();
	if (failed)
	{
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_RuntimeError, failure ? failure : "log_to_postgres failed");
		return NULL;
	}
	Py_RETURN_NONE;
}

/*
 * check_interrupts(): raise KeyboardInterrupt when a cancel or termination is pending,
 * so long-running Python code can stop; py_raise_error then reports PostgreSQL's own
 * "canceling statement" error.  KeyboardInterrupt is not an Exception subclass, so
 * `except Exception` in FDW code does not swallow it.
 */
static PyObject *
utils_check_interrupts(PyObject *self, PyObject *unused)
{
	if (InterruptPending && (QueryCancelPending || ProcDiePending))
	{
		PyErr_SetString(PyExc_KeyboardInterrupt, "canceling statement due to a PostgreSQL interrupt");
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyMethodDef utils_methods[] = {
	{"_log_to_postgres", (PyCFunction) (void (*) (void)) utils_log_to_postgres,
	METH_VARARGS | METH_KEYWORDS, "Send a message to PostgreSQL's log/client."},
	{"check_interrupts", utils_check_interrupts, METH_NOARGS,
	"Raise KeyboardInterrupt if the query was canceled."},
	{NULL, NULL, 0, NULL}
};

static struct PyModuleDef utils_module_def = {
	PyModuleDef_HEAD_INIT, "multicorn._utils", "PostgreSQL services for multicorn", -1,
	utils_methods
};

/*
 * Registered in sys.modules before `multicorn` is imported, so that
 * `from ._utils import ...` in multicorn.utils finds it.
 */
static void
register_utils_module(void)
{
	PyObject   *module;
	PyObject   *modules = PyImport_GetModuleDict();	/* borrowed */

	if (PyDict_GetItemString(modules, "multicorn._utils") != NULL)
		return;
	module = PyModule_Create(&utils_module_def);
	if (module == NULL || PyDict_SetItemString(modules, "multicorn._utils", module) != 0)
		py_raise_error(ERROR, "registering multicorn._utils");
	Py_DECREF(module);
}
