/*
 * instances.c: one Python FDW object per foreign table and backend, as in multicorn2.
 *
 * The object is created from the `wrapper` class with the merged options and the
 * column definitions, and kept until those change (compared through a signature
 * string, because ALTER FOREIGN TABLE/SERVER/USER MAPPING may change them at any time).
 * Options are merged table, then server, then user mapping; a later one wins, as with
 * multicorn2 (its optionsListToPyDict fills one dict in that order).
 *
 * Transactions: begin()/sub_begin() are called when an object is first used in a
 * (sub)transaction; pre_commit(), commit(), rollback(), sub_commit(), sub_rollback()
 * come from PostgreSQL's transaction callbacks (access/xact.h).  Only pre_commit() and
 * sub_commit() may fail the transaction: an ERROR during COMMIT or ABORT processing
 * would be promoted to PANIC (xact.c), so failures there are reported as WARNING.
 */
#include "multicorn_compat.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/xact.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

static HTAB *instances = NULL;

static void xact_callback(XactEvent event, void *arg);
static void subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg);

void
mc_instances_init(void)
{
	HASHCTL		ctl;

	MemSet(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(FdwInstance);
	ctl.hcxt = TopMemoryContext;
	instances = hash_create("multicorn_compat instances", 32, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
}

/*
 * Call obj.method(*args, **kwargs); args and kwargs references are stolen.  On a Python
 * exception: report it at elevel; if that returns (WARNING), return NULL.
 */
PyObject *
mc_call_method(int elevel, PyObject *obj, const char *method, const char *relname,
			   PyObject *args, PyObject *kwargs)
{
	PyObject   *fn = PyObject_GetAttrString(obj, method);
	PyObject   *result = NULL;

	if (fn != NULL && args == NULL)
		args = PyTuple_New(0);
	if (fn != NULL && args != NULL)
		result = PyObject_Call(fn, args, kwargs);
	Py_XDECREF(fn);
	Py_XDECREF(args);
	Py_XDECREF(kwargs);
	if (result == NULL)
	{
		if (relname)
			py_raise_fdw_error(elevel, "Python method %s() of foreign table \"%s\"", method, relname);
		else
			py_raise_fdw_error(elevel, "Python method %s()", method);
	}
	return result;
}

PyObject *
mc_wrapper_class(const char *wrapper)
{
	PyObject   *get_class,
			   *name,
			   *cls;

	mc_python_init();
	get_class = mc_multicorn_attr("get_class");
	name = py_str_from_server(wrapper);
	cls = name ? PyObject_CallFunctionObjArgs(get_class, name, NULL) : NULL;
	Py_DECREF(get_class);
	Py_XDECREF(name);
	if (cls == NULL)
	{
		char	   *reason = py_fetch_error_message();

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("multicorn wrapper class \"%s\" could not be loaded: %s", wrapper, reason),
				 errhint("The wrapper option must name a class as 'package.module.Class' that the "
						 "PostgreSQL server can import (check its PYTHONPATH).")));
	}
	return cls;
}

PyObject *
options_to_pydict(List *options)
{
	PyObject   *dict = PyDict_New();
	ListCell   *lc;

	if (dict == NULL)
		py_raise_error(ERROR, "building options");
	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);
		PyObject   *value = py_str_from_server(defGetString(def));

		if (value == NULL || PyDict_SetItemString(dict, def->defname, value) != 0)
		{
			Py_XDECREF(value);
			Py_DECREF(dict);
			py_raise_error(ERROR, "building option \"%s\"", def->defname);
		}
		Py_DECREF(value);
	}
	return dict;
}

/* The user mapping for the current user, else PUBLIC, else none (unlike GetUserMapping). */
static List *
user_mapping_options(Oid serverid)
{
	HeapTuple	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(GetUserId()),
									 ObjectIdGetDatum(serverid));
	List	   *options = NIL;
	bool		isnull;
	Datum		datum;

	if (!HeapTupleIsValid(tp))
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		return NIL;
	datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp, Anum_pg_user_mapping_umoptions, &isnull);
	if (!isnull)
		options = untransformRelOptions(datum);
	ReleaseSysCache(tp);
	return options;
}

/* Server options without `wrapper` (returned separately), then user mapping options. */
List *
server_and_mapping_options(Oid serverid, const char **wrapper)
{
	ForeignServer *server = GetForeignServer(serverid);
	List	   *options = NIL;
	ListCell   *lc;

	*wrapper = NULL;
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "wrapper") == 0)
			*wrapper = defGetString(def);
		else
			options = lappend(options, def);
	}
	if (*wrapper == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign server \"%s\" has no wrapper option", server->servername),
				 errhint("ALTER SERVER %s OPTIONS (ADD wrapper 'package.module.Class')",
						 quote_identifier(server->servername))));
	return list_concat(options, user_mapping_options(serverid));
}

static void
append_options_signature(StringInfo sig, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		appendStringInfo(sig, "%s=%s\x1f", def->defname, defGetString(def));
	}
	appendStringInfoChar(sig, '\x1e');
}

static PyObject *
column_definitions(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	PyObject   *coldef_class = mc_multicorn_attr("ColumnDefinition");
	PyObject   *ordered_dict = mc_multicorn_attr("OrderedDict");
	PyObject   *columns = PyObject_CallNoArgs(ordered_dict);
	int			i;

	Py_DECREF(ordered_dict);
	if (columns == NULL)
		py_raise_error(ERROR, "building column definitions");
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		PyObject   *name,
				   *options,
				   *type_name,
				   *base_type_name,
				   *coldef = NULL;

		if (att->attisdropped)
			continue;
		name = py_str_from_server(NameStr(att->attname));
		type_name = py_str_from_server(format_type_with_typemod(att->atttypid, att->atttypmod));
		base_type_name = py_str_from_server(format_type_be(att->atttypid));
		options = options_to_pydict(GetForeignColumnOptions(RelationGetRelid(rel), att->attnum));
		if (name && type_name && base_type_name)
			coldef = PyObject_CallFunction(coldef_class, "OIiOOO", name, (unsigned int) att->atttypid,
										   (int) att->atttypmod, type_name, base_type_name, options);
		if (coldef == NULL || PyObject_SetItem(columns, name, coldef) != 0)
			py_raise_error(ERROR, "building the definition of column \"%s\"", NameStr(att->attname));
		Py_DECREF(coldef);
		Py_DECREF(name);
		Py_DECREF(type_name);
		Py_DECREF(base_type_name);
		Py_DECREF(options);
	}
	Py_DECREF(coldef_class);
	return columns;
}

static void
begin_xact(FdwInstance *entry, const char *relname)
{
	int			level = GetCurrentTransactionNestLevel();

	if (entry->xact_depth <= 0)
	{
		Py_DECREF(mc_call_method(ERROR, entry->instance, "begin", relname,
								 Py_BuildValue("(i)", (int) IsolationIsSerializable()), NULL));
		entry->xact_depth = 1;
	}
	while (entry->xact_depth < level)
	{
		Py_DECREF(mc_call_method(ERROR, entry->instance, "sub_begin", relname,
								 Py_BuildValue("(i)", entry->xact_depth + 1), NULL));
		entry->xact_depth++;
	}
}

FdwInstance *
mc_get_instance(Oid relid)
{
	ForeignTable *table = GetForeignTable(relid);
	const char *wrapper;
	List	   *options = list_concat(list_copy(table->options),
									  server_and_mapping_options(table->serverid, &wrapper));
	Relation	rel = RelationIdGetRelation(relid);
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *relname = pstrdup(RelationGetRelationName(rel));
	StringInfoData sig;
	FdwInstance *entry;
	bool		found;
	int			i;

	mc_python_init();

	initStringInfo(&sig);
	appendStringInfo(&sig, "%s\x1e", wrapper);
	append_options_signature(&sig, options);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		appendStringInfo(&sig, "%s:%u:%d:", NameStr(att->attname), att->atttypid, att->atttypmod);
		append_options_signature(&sig, GetForeignColumnOptions(relid, att->attnum));
	}

	entry = hash_search(instances, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->instance = NULL;
		entry->signature = NULL;
		entry->xact_depth = 0;
	}
	if (entry->instance == NULL || strcmp(entry->signature, sig.data) != 0)
	{
		PyObject   *cls = mc_wrapper_class(wrapper);
		PyObject   *p_options = options_to_pydict(options);
		PyObject   *p_columns = column_definitions(rel);
		PyObject   *instance;

		RelationClose(rel);
		rel = NULL;
		Py_CLEAR(entry->instance);
		if (entry->signature)
			pfree(entry->signature);
		entry->signature = NULL;
		entry->xact_depth = 0;
		instance = PyObject_CallFunctionObjArgs(cls, p_options, p_columns, NULL);
		Py_DECREF(cls);
		Py_DECREF(p_options);
		Py_DECREF(p_columns);
		if (instance == NULL)
			py_raise_fdw_error(ERROR, "creating the %s object for foreign table \"%s\"", wrapper, relname);
		entry->instance = instance;
		entry->signature = MemoryContextStrdup(TopMemoryContext, sig.data);
	}
	if (rel)
		RelationClose(rel);
	begin_xact(entry, relname);
	return entry;
}

/* ------------------------------------------------------------------------
 * Transaction callbacks
 * ------------------------------------------------------------------------ */

static void
xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS status;
	FdwInstance *entry;
	const char *method;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			method = "pre_commit";
			break;
		case XACT_EVENT_COMMIT:
			method = "commit";
			break;
		case XACT_EVENT_ABORT:
			method = "rollback";
			break;
		default:

			/*
			 * PRE_PREPARE and PREPARE included, as in multicorn2: PREPARE TRANSACTION
			 * calls no Python method, and the Python transaction stays open (no begin()
			 * next time) until this backend's next commit or rollback ends it.
			 */
			return;
	}
	if (instances == NULL)
		return;
	hash_seq_init(&status, instances);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		PyObject   *result;

		if (entry->xact_depth <= 0 || entry->instance == NULL)
			continue;
		if (event != XACT_EVENT_PRE_COMMIT)
			entry->xact_depth = 0;
		if (event == XACT_EVENT_PRE_COMMIT)
		{
			PyObject   *fn = PyObject_GetAttrString(entry->instance, method);

			result = fn ? PyObject_CallNoArgs(fn) : NULL;
			Py_XDECREF(fn);
			if (result == NULL)
			{
				hash_seq_term(&status);
				py_raise_fdw_error(ERROR, "Python method pre_commit()");
			}
		}
		else
			result = mc_call_method(WARNING, entry->instance, method, NULL, NULL, NULL);
		Py_XDECREF(result);
	}
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS status;
	FdwInstance *entry;
	int			level;

	if ((event != SUBXACT_EVENT_PRE_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB) ||
		instances == NULL)
		return;
	level = GetCurrentTransactionNestLevel();
	hash_seq_init(&status, instances);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		PyObject   *result;

		if (entry->xact_depth < level || entry->instance == NULL)
			continue;
		entry->xact_depth = level - 1;
		if (event == SUBXACT_EVENT_PRE_COMMIT_SUB)
		{
			PyObject   *fn = PyObject_GetAttrString(entry->instance, "sub_commit");

			result = fn ? PyObject_CallFunction(fn, "i", level) : NULL;
			Py_XDECREF(fn);
			if (result == NULL)
			{
				hash_seq_term(&status);
				py_raise_fdw_error(ERROR, "Python method sub_commit()");
			}
		}
		else
			result = mc_call_method(WARNING, entry->instance, "sub_rollback", NULL,
									Py_BuildValue("(i)", level), NULL);
		Py_XDECREF(result);
	}
}
