/*
 * multicorn_compat: a clean-room runtime for multicorn2's Python FDW API.
 *
 * Files:
 *   embed.c      Python interpreter, Python->PostgreSQL error mapping, multicorn._utils
 *   instances.c  one Python FDW instance per foreign table, options, transactions
 *   convert.c    values between Python and PostgreSQL, in multicorn2's forms
 *   jsonb.c      a Python dict or list for a jsonb column, built as jsonb directly
 *   quals.c      WHERE clauses -> Qual objects, ORDER BY -> SortKey objects
 *   fdw.c        the FdwRoutine: planning, scanning, modifying, IMPORT FOREIGN SCHEMA
 *
 * Rule for every call into Python: the call returns to C first, and only then may a
 * PostgreSQL ERROR be raised (py_raise_error); a longjmp never crosses Python frames.
 */
#ifndef MULTICORN_COMPAT_H
#define MULTICORN_COMPAT_H

#include <Python.h>

#include "postgres.h"
#include "fmgr.h"
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

/* ---- embed.c ---- */
extern void mc_python_init(void);
extern void py_raise_error(int elevel, const char *fmt,...) pg_attribute_printf(2, 3);
extern void py_raise_fdw_error(int elevel, const char *fmt,...) pg_attribute_printf(2, 3);
extern char *py_fetch_error_message(void);	/* "Type: message", clears the error */
extern PyObject *mc_multicorn_attr(const char *name);	/* new ref, ERROR if missing */
extern PyObject *py_str_from_server(const char *s);	/* new ref, NULL on Python error */
extern const char *py_as_server_str(PyObject *str, Py_ssize_t *len);	/* NULL on Python error */
extern char *py_object_to_server_str(PyObject *obj, const char *what);	/* str(obj), palloc'd */

/* A Python reference dropped with CurrentMemoryContext (also on ERROR), see py_hold(). */
typedef struct PyHold
{
	PyObject   *obj;			/* NULL once released or handed back */
	MemoryContextCallback callback;
} PyHold;

extern PyHold *py_hold(PyObject *obj);	/* takes over obj (may be NULL) */
extern void py_release(PyHold *hold);
extern PyObject *py_unhold(PyHold *hold);	/* the reference, back to the caller */

/* ---- convert.c ---- */

/* How one attribute of a foreign table converts, both ways. */
typedef struct ColumnIO
{
	char	   *name;			/* attname */
	PyObject   *pyname;			/* interned Python str of name */
	AttrNumber	attnum;
	Oid			typoid;
	int32		typmod;
	int			ndims;			/* > 0 for array columns */
	FmgrInfo	infunc;
	Oid			ioparam;
	bool		dropped;
} ColumnIO;

typedef struct RelationIO
{
	char	   *relname;
	int			natts;
	ColumnIO   *columns;		/* natts entries, dropped ones flagged */
	StringInfoData text;		/* a value's text on its way to an input function */
	PyObject   *held_value;		/* a dict row's value while it converts */
} RelationIO;

extern void mc_convert_init(void);
extern RelationIO *relation_io_create(Relation rel);
extern void relation_io_release(RelationIO *rio);
extern PyObject *datum_to_python(Datum value, Oid typoid);	/* new ref or NULL (Python
															 * error) */
extern void python_row_to_slot(RelationIO *rio, PyObject *row, TupleTableSlot *slot);
extern PyObject *slot_to_python_dict(RelationIO *rio, TupleTableSlot *slot);	/* new ref, ERROR on
																				 * failure */

/* ---- jsonb.c ---- */
extern Datum python_to_jsonb(PyObject *obj);	/* dict or list; ERROR if it has no JSON form */

/* ---- instances.c ---- */
typedef struct FdwInstance
{
	Oid			relid;			/* hash key: the foreign table */
	char	   *signature;		/* options + columns it was built from */
	PyObject   *instance;
	int			xact_depth;		/* 0: begin() not yet called in this transaction */
} FdwInstance;

extern void mc_instances_init(void);
extern FdwInstance *mc_get_instance(Oid relid);
extern PyObject *mc_wrapper_class(const char *wrapper);	/* new ref, ERROR naming it */
extern PyObject *options_to_pydict(List *options);	/* new ref, ERROR on failure */
extern List *server_and_mapping_options(Oid serverid, const char **wrapper);
extern PyObject *mc_call_method(int elevel, PyObject *obj, const char *method,
								const char *relname, PyObject *args, PyObject *kwargs);

/* ---- quals.c ---- */
struct PlannerInfo;
struct RelOptInfo;
struct ExprContext;

extern void extract_quals(struct PlannerInfo *root, struct RelOptInfo *baserel, List *clauses,
						  List **qual_specs, List **exprs);
extern PyObject *quals_to_python(List *qual_specs, List *exprs, List *expr_states,
								 RelationIO *rio, struct ExprContext *econtext, bool with_unbound);
extern List *deparse_sortkeys(struct PlannerInfo *root, struct RelOptInfo *baserel,
							  List *pathkeys, int *nkeys);
extern PyObject *sortkeys_to_python(List *sortkeys);
extern int	accepted_sortkeys(PyObject *requested, PyObject *accepted);

#endif
