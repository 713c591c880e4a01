/*
 * fdw.c: the FdwRoutine of the `multicorn` foreign data wrapper.
 *
 * PostgreSQL 15 callbacks (doc: "Writing a Foreign Data Wrapper", foreign/fdwapi.h)
 * mapped to multicorn2's Python API:
 *   GetForeignRelSize  -> get_rel_size(quals, columns)
 *   GetForeignPaths    -> a plain path; a sorted path if can_sort(sortkeys) accepts a
 *                         prefix of the query's ORDER BY; one parameterized path per
 *                         get_path_keys() entry whose columns are bound by join clauses
 *   GetForeignUpperPaths (UPPERREL_FINAL) -> can_limit(limit, offset) for a LIMIT/OFFSET
 *                         over a plain scan (no WHERE, grouping, etc.), as multicorn2 3.2
 *   Begin/Iterate/ReScan/EndForeignScan -> execute(quals, columns, **kwargs), one item per
 *                         IterateForeignScan; end_scan()
 *   ExplainForeignScan -> explain(quals, columns, verbose=..., **kwargs)
 *   modify callbacks   -> rowid_column, insert, bulk_insert, update, delete, end_modify
 *   ImportForeignSchema -> import_schema(...) and TableDefinition.to_statement()
 * execute()/explain() receive sortkeys=, limit=, offset= only when they apply, so FDWs
 * written for older multicorn signatures keep working.  ORDER BY is pushed through the
 * pathkeys of base-relation paths (as multicorn2 does), which also lets merge joins use
 * the FDW's order; only LIMIT needs an upper path.
 */
#include "multicorn_compat.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(multicorn_handler);
PG_FUNCTION_INFO_V1(multicorn_validator);

void		_PG_init(void);

void
_PG_init(void)
{
	mc_instances_init();
}

#define ROWID_JUNK_NAME "multicorn_rowid"

/* Planner state of one foreign base relation (RelOptInfo.fdw_private). */
typedef struct McPlanState
{
	Oid			relid;
	char	   *relname;
	PyObject   *instance;		/* borrowed from the instance cache */
	RelationIO *rio;
	List	   *target_names;	/* String nodes: columns the query needs */
	double		startup_cost;
	int			width;
	MemoryContextCallback release;
} McPlanState;

/* Executor state of a scan or a modification. */
typedef struct McExecState
{
	char	   *relname;
	PyObject   *instance;
	RelationIO *rio;
	/* scan */
	List	   *qual_specs;
	List	   *exprs;
	List	   *expr_states;
	List	   *target_names;
	List	   *sortkeys;
	List	   *limit;			/* String count or "", String offset or ""; NIL if not pushed */
	PyObject   *iterator;
	PyObject   *row;			/* item being converted, released by cleanup on ERROR */
	bool		done;
	/* modify */
	MemoryContext rowcxt;
	AttrNumber	rowid_resno;	/* junk column in the subplan output */
	AttrNumber	rowid_attnum;
	MemoryContextCallback release;
} McExecState;

/* fdw_private of a ForeignScan */
#define FP_QUALS	0
#define FP_TARGETS	1
#define FP_SORTKEYS 2
#define FP_LIMIT	3

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static void
release_plan_state(void *arg)
{
	McPlanState *ps = arg;

	if (ps->rio)
		relation_io_release(ps->rio);
	ps->rio = NULL;
}

/* Runs when the executor's memory goes away, also on ERROR: Python refs never leak. */
static void
release_exec_state(void *arg)
{
	McExecState *es = arg;

	Py_CLEAR(es->row);
	Py_CLEAR(es->iterator);
	Py_CLEAR(es->instance);
	if (es->rio)
		relation_io_release(es->rio);
	es->rio = NULL;
}

static PyObject *
names_to_pyset(List *names)
{
	PyHold	   *set = py_hold(PySet_New(NULL));
	ListCell   *lc;

	if (set->obj == NULL)
		py_raise_error(ERROR, "building the column set");
	foreach(lc, names)
	{
		PyObject   *name = py_str_from_server(strVal(lfirst(lc)));
		int			added = name ? PySet_Add(set->obj, name) : -1;

		Py_XDECREF(name);
		if (added != 0)
			py_raise_error(ERROR, "building the column set");
	}
	return py_unhold(set);
}

static PyObject *
limit_value(List *limit, int n)
{
	const char *s = strVal(list_nth(limit, n));

	if (s[0] == '\0')
		Py_RETURN_NONE;
	return PyLong_FromString(s, NULL, 10);
}

/* kwargs shared by execute() and explain(): sortkeys, limit, offset when they apply */
static PyObject *
scan_kwargs(McExecState *es)
{
	PyObject   *kwargs = PyDict_New();

	if (kwargs == NULL)
		py_raise_error(ERROR, "building arguments");
	if (es->sortkeys != NIL)
	{
		PyObject   *sk = sortkeys_to_python(es->sortkeys);

		PyDict_SetItemString(kwargs, "sortkeys", sk);
		Py_DECREF(sk);
	}
	if (es->limit != NIL)
	{
		PyObject   *count = limit_value(es->limit, 0);
		PyObject   *offset = limit_value(es->limit, 1);

		PyDict_SetItemString(kwargs, "limit", count);
		PyDict_SetItemString(kwargs, "offset", offset);
		Py_XDECREF(count);
		Py_XDECREF(offset);
	}
	if (PyErr_Occurred())
		py_raise_error(ERROR, "building arguments");
	return kwargs;
}

/* A number from Python; takes over obj (a new reference, or NULL with a Python error). */
static double
python_number(PyObject *obj, const char *what, const char *relname)
{
	PyObject   *num = obj ? PyNumber_Float(obj) : NULL;
	double		value;

	Py_XDECREF(obj);
	if (num == NULL)
		py_raise_error(ERROR, "%s of foreign table \"%s\" is not a number", what, relname);
	value = PyFloat_AS_DOUBLE(num);
	Py_DECREF(num);
	return value;
}

/*
 * A row width from Python as the planner's int32: at least 1, and at most what one
 * tuple can hold (MaxAllocSize), so that a huge or NaN width cannot wrap around.
 */
static int
clamp_width(double width)
{
	if (isnan(width) || width < 1)
		return 1;
	if (width > MaxAllocSize)
		return MaxAllocSize;
	return (int) width;
}

/* ------------------------------------------------------------------------
 * Planning
 * ------------------------------------------------------------------------ */

static void
mcGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	McPlanState *ps = palloc0(sizeof(McPlanState));
	FdwInstance *entry = mc_get_instance(foreigntableid);
	Relation	rel = table_open(foreigntableid, NoLock);
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	List	   *specs = NIL,
			   *exprs = NIL;
	PyObject   *result,
			   *columns,
			   *startup;
	PyHold	   *quals;
	int			i;

	ps->relid = foreigntableid;
	ps->relname = pstrdup(RelationGetRelationName(rel));
	ps->instance = entry->instance;
	ps->rio = relation_io_create(rel);
	ps->release.func = release_plan_state;
	ps->release.arg = ps;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &ps->release);
	table_close(rel, NoLock);
	baserel->fdw_private = ps;

	/* The columns the query needs: output, and those the local re-check reads. */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, baserel->relid, &attrs);
	for (i = 0; i < ps->rio->natts; i++)
	{
		ColumnIO   *col = &ps->rio->columns[i];
		bool		whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);

		if (!col->dropped &&
			(whole_row || bms_is_member(col->attnum - FirstLowInvalidHeapAttributeNumber, attrs)))
			ps->target_names = lappend(ps->target_names, makeString(col->name));
	}

	extract_quals(root, baserel, baserel->baserestrictinfo, &specs, &exprs);
	quals = py_hold(quals_to_python(specs, exprs, NIL, ps->rio, NULL, false));
	columns = names_to_pyset(ps->target_names);	/* may raise: quals are held */
	result = mc_call_method(ERROR, ps->instance, "get_rel_size", ps->relname,
							Py_BuildValue("(NN)", py_unhold(quals), columns), NULL);
	if (!PySequence_Check(result) || PySequence_Size(result) != 2)
	{
		Py_DECREF(result);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("get_rel_size() of foreign table \"%s\" must return a tuple (rows, width)",
						ps->relname)));
	}
	{
		PyHold	   *held = py_hold(result);
		double		rows = python_number(PySequence_GetItem(result, 0), "get_rel_size() rows",
										 ps->relname);
		double		width = python_number(PySequence_GetItem(result, 1), "get_rel_size() width",
										  ps->relname);

		py_release(held);
		baserel->rows = clamp_row_est(rows);
		ps->width = clamp_width(width);
		baserel->reltarget->width = ps->width;
	}
	startup = PyObject_GetAttrString(ps->instance, "_startup_cost");
	if (startup == NULL)
		PyErr_Clear();
	ps->startup_cost = startup ? python_number(startup, "_startup_cost", ps->relname) : 20;
}

static Cost
scan_total_cost(McPlanState *ps, double rows)
{
	/*
	 * multicorn2's model: a scan's total cost is rows * width, with the startup cost
	 * not added (for every path: plain, sorted, parameterized and LIMIT).
	 */
	return rows * ps->width;
}

/* Does an equivalence class member stand for column *arg of rel? */
static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	Node	   *expr = (Node *) em->em_expr;

	while (IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	return IsA(expr, Var) && ((Var *) expr)->varno == rel->relid &&
		((Var *) expr)->varattno == *(AttrNumber *) arg;
}

/*
 * A join clause that binds column attnum to other relations, or NULL: an equality (`col = outer`),
 * as multicorn2 finds them (equivalence classes, outer-join clauses).  Any other join clause on the
 * column (`col < outer.x`) gives the scan no value, so a path parameterized by it would be priced as
 * a lookup per outer row and read the whole table for each.
 */
static RestrictInfo *
join_clause_for_column(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attnum)
{
	ListCell   *lc;
	List	   *clauses;

	clauses = generate_implied_equalities_for_column(root, baserel, ec_member_is_column,
													 &attnum, baserel->lateral_referencers);
	clauses = list_concat(clauses, list_copy(baserel->joininfo));
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		List	   *specs = NIL,
				   *exprs = NIL;

		if (!bms_is_member(baserel->relid, ri->clause_relids) ||
			bms_is_subset(ri->clause_relids, baserel->relids))
			continue;
		extract_quals(root, baserel, list_make1(ri), &specs, &exprs);
		if (specs != NIL)
		{
			List	   *spec = linitial(specs);

			/* (attnum, operator name, is_array, use_or, expression index, null_test): extract_quals() */
			if (intVal(linitial(spec)) == attnum && strcmp(strVal(lsecond(spec)), "=") == 0 &&
				!intVal(lthird(spec)))
				return ri;
		}
	}
	return NULL;
}

static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, McPlanState *ps)
{
	PyObject   *result = mc_call_method(ERROR, ps->instance, "get_path_keys", ps->relname, NULL, NULL);

	/* Every reference below is held (py_hold): an ERROR while reading them leaks none. */
	PyHold	   *items = py_hold(PySequence_Fast(result, "get_path_keys() must return a list"));
	Py_ssize_t	i;

	Py_DECREF(result);
	if (items->obj == NULL)
		py_raise_error(ERROR, "reading get_path_keys() of foreign table \"%s\"", ps->relname);
	for (i = 0; i < PySequence_Fast_GET_SIZE(items->obj); i++)
	{
		/* held: reading it runs Python, which could take it out of the list */
		PyHold	   *item = py_hold(Py_NewRef(PySequence_Fast_GET_ITEM(items->obj, i)));
		PyHold	   *keys,
				   *columns;
		double		rows;
		Relids		required_outer = NULL;
		bool		usable = true;
		Py_ssize_t	k;

		if (!PySequence_Check(item->obj) || PySequence_Size(item->obj) != 2)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("get_path_keys() of foreign table \"%s\" must return (columns, rows) pairs",
							ps->relname)));
		keys = py_hold(PySequence_GetItem(item->obj, 0));
		rows = clamp_row_est(python_number(PySequence_GetItem(item->obj, 1), "get_path_keys() rows",
										   ps->relname));
		if (keys->obj != NULL && PyUnicode_Check(keys->obj))
		{
			/* multicorn2 would read the string's characters as column names: no path */
			py_release(keys);
			py_release(item);
			ereport(WARNING,
					(errmsg("get_path_keys() of foreign table \"%s\" gave a string, not a tuple of column names",
							ps->relname),
					 errhint("Write (('column',), rows), with the comma.")));
			continue;
		}
		columns = py_hold(keys->obj ? PySequence_Fast(keys->obj, "get_path_keys() columns must be a tuple")
						  : NULL);
		py_release(keys);
		if (columns->obj == NULL)
			py_raise_error(ERROR, "reading get_path_keys() of foreign table \"%s\"", ps->relname);
		for (k = 0; k < PySequence_Size(columns->obj) && usable; k++)
		{
			PyHold	   *name = py_hold(PySequence_GetItem(columns->obj, k));
			char	   *colname = py_object_to_server_str(name->obj, "a get_path_keys() column");
			AttrNumber	attnum = get_attnum(ps->relid, colname);
			RestrictInfo *ri;

			py_release(name);
			ri = attnum > 0 ? join_clause_for_column(root, baserel, attnum) : NULL;
			if (ri == NULL)
				usable = false;
			else
				required_outer = bms_union(required_outer,
										   bms_difference(ri->clause_relids, baserel->relids));
		}
		py_release(columns);
		py_release(item);
		if (usable && !bms_is_empty(required_outer))
			add_path(baserel, (Path *)
					 create_foreignscan_path(root, baserel, NULL, rows, ps->startup_cost,
											 scan_total_cost(ps, rows),
											 NIL, required_outer, NULL, NIL));
	}
	py_release(items);
}

/* Ask can_sort() about the leading ORDER BY keys; returns the accepted sort key specs. */
static List *
pushable_sortkeys(PlannerInfo *root, RelOptInfo *baserel, McPlanState *ps, List *pathkeys,
				  int *naccepted)
{
	int			n;
	List	   *sortkeys = deparse_sortkeys(root, baserel, pathkeys, &n);
	PyObject   *requested,
			   *accepted;

	*naccepted = 0;
	if (n == 0)
		return NIL;
	/* can_sort() gets its own copy: it may reorder or change it (e.g. sort it in place) */
	accepted = mc_call_method(ERROR, ps->instance, "can_sort", ps->relname,
							  Py_BuildValue("(N)", sortkeys_to_python(sortkeys)), NULL);
	requested = sortkeys_to_python(sortkeys);
	*naccepted = accepted_sortkeys(requested, accepted);
	Py_DECREF(accepted);
	Py_DECREF(requested);
	return list_truncate(sortkeys, *naccepted);
}

static void
mcGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	McPlanState *ps = baserel->fdw_private;
	Cost		total = scan_total_cost(ps, baserel->rows);

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows, ps->startup_cost,
									 total, NIL, NULL, NULL, NIL));
	if (root->query_pathkeys != NIL)
	{
		int			n;
		List	   *sortkeys = pushable_sortkeys(root, baserel, ps, root->query_pathkeys, &n);

		if (n > 0)
			add_path(baserel, (Path *)
					 create_foreignscan_path(root, baserel, NULL, baserel->rows, ps->startup_cost,
											 total,
											 list_truncate(list_copy(root->query_pathkeys), n),
											 NULL, NULL, list_make1(sortkeys)));
	}
	add_parameterized_paths(root, baserel, ps);
}

/*
 * LIMIT/OFFSET pushdown (multicorn2 3.2): only for a plain SELECT over this one foreign
 * table without WHERE, grouping, aggregates, window functions, DISTINCT or SRFs, with
 * constant LIMIT/OFFSET, and with the whole ORDER BY pushed down; then can_limit()
 * decides.  The path replaces Limit(Sort(scan)) by one ForeignScan that still scans
 * the base relation (scanrelid > 0, so EXPLAIN shows "Foreign Scan on t").
 */
static void
mcGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
					   RelOptInfo *output_rel, void *extra)
{
	Query	   *parse = root->parse;
	FinalPathExtraData *fextra = extra;
	RelOptInfo *baserel;
	McPlanState *ps;
	int			relid;
	char	   *count = "",
			   *offset = "";
	List	   *sortkeys = NIL;
	PyObject   *ok;
	int			truth;
	double		rows;
	Cost		scan_total,
				startup,
				total;

	if (stage != UPPERREL_FINAL || !fextra->limit_needed ||
		parse->commandType != CMD_SELECT || parse->hasAggs || parse->groupClause != NIL ||
		parse->groupingSets != NIL || parse->hasWindowFuncs || parse->distinctClause != NIL ||
		parse->hasTargetSRFs || parse->setOperations != NULL || parse->rowMarks != NIL ||
		parse->havingQual != NULL || parse->limitOption == LIMIT_OPTION_WITH_TIES ||
		bms_membership(root->all_baserels) != BMS_SINGLETON)
		return;
	relid = bms_singleton_member(root->all_baserels);
	baserel = find_base_rel(root, relid);
	ps = baserel->fdw_private;
	if (baserel->reloptkind != RELOPT_BASEREL || baserel->fdwroutine == NULL || ps == NULL ||
		baserel->baserestrictinfo != NIL)
		return;
	if (parse->limitCount != NULL)
	{
		Const	   *c = (Const *) parse->limitCount;

		/* a negative LIMIT stays with PostgreSQL, whose Limit node reports it */
		if (!IsA(c, Const) || (!c->constisnull && DatumGetInt64(c->constvalue) < 0))
			return;
		if (!c->constisnull)
			count = psprintf(INT64_FORMAT, DatumGetInt64(c->constvalue));
	}
	if (parse->limitOffset != NULL)
	{
		Const	   *c = (Const *) parse->limitOffset;

		if (!IsA(c, Const) || (!c->constisnull && DatumGetInt64(c->constvalue) < 0))
			return;
		if (!c->constisnull)
			offset = psprintf(INT64_FORMAT, DatumGetInt64(c->constvalue));
	}
	if (parse->sortClause != NIL)
	{
		int			n;

		sortkeys = pushable_sortkeys(root, baserel, ps, root->sort_pathkeys, &n);
		if (n != list_length(root->sort_pathkeys))
			return;
	}
	ok = mc_call_method(ERROR, ps->instance, "can_limit", ps->relname,
						Py_BuildValue("(NN)",
									  count[0] ? PyLong_FromString(count, NULL, 10) : (Py_INCREF(Py_None), Py_None),
									  offset[0] ? PyLong_FromString(offset, NULL, 10) : (Py_INCREF(Py_None), Py_None)),
						NULL);
	truth = PyObject_IsTrue(ok);
	Py_DECREF(ok);
	if (truth < 0)
		py_raise_error(ERROR, "reading the result of can_limit() of foreign table \"%s\"", ps->relname);
	if (!truth)
		return;

	/*
	 * multicorn2's estimate: LIMIT n returns n rows at n * width.  Without a LIMIT
	 * (OFFSET alone) multicorn2 would estimate -1 rows; here the rows past the offset
	 * are estimated, at a cost a little below the Limit node's over the plain scan.
	 */
	startup = ps->startup_cost;
	if (count[0])
	{
		rows = (double) DatumGetInt64(((Const *) parse->limitCount)->constvalue);
		total = scan_total_cost(ps, rows);
	}
	else
	{
		rows = clamp_row_est(baserel->rows - fextra->offset_est);
		scan_total = scan_total_cost(ps, baserel->rows);
		total = startup + Max(scan_total - startup, 0) * (rows / baserel->rows) * 0.5;
	}
	add_path(output_rel, (Path *)
			 create_foreign_upper_path(root, output_rel, root->upper_targets[UPPERREL_FINAL],
									   rows, startup, total,
									   parse->sortClause != NIL ? root->sort_pathkeys : NIL, NULL,
									   list_make3(makeInteger(relid), sortkeys,
												  list_make2(makeString(count), makeString(offset)))));
}

static ForeignScan *
mcGetForeignPlan(PlannerInfo *root, RelOptInfo *foreignrel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses, Plan *outer_plan)
{
	RelOptInfo *baserel = foreignrel;
	McPlanState *ps;
	List	   *specs = NIL,
			   *exprs = NIL,
			   *sortkeys = NIL,
			   *limit = NIL;

	if (foreignrel->reloptkind == RELOPT_UPPER_REL)
	{
		List	   *fp = best_path->fdw_private;

		baserel = find_base_rel(root, intVal(linitial(fp)));
		sortkeys = lsecond(fp);
		limit = lthird(fp);
	}
	else if (best_path->fdw_private != NIL)
		sortkeys = linitial(best_path->fdw_private);
	ps = baserel->fdw_private;

	/*
	 * The plan shows get_rel_size()'s width, as under multicorn2, even where PostgreSQL
	 * computed the path's target width itself (sorted and LIMIT paths).
	 */
	best_path->path.pathtarget->width = ps->width;

	/* Every clause stays in the plan's qual: PostgreSQL re-checks what Python filtered. */
	extract_quals(root, baserel, scan_clauses, &specs, &exprs);
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	return make_foreignscan(tlist, scan_clauses, baserel->relid, exprs,
							list_make4(specs, ps->target_names, sortkeys, limit),
							NIL, NIL, outer_plan);
}

/* ------------------------------------------------------------------------
 * Scanning
 * ------------------------------------------------------------------------ */

static McExecState *
exec_state_create(EState *estate, Relation rel)
{
	McExecState *es = palloc0(sizeof(McExecState));
	FdwInstance *entry = mc_get_instance(RelationGetRelid(rel));

	es->relname = pstrdup(RelationGetRelationName(rel));
	es->instance = entry->instance;
	Py_INCREF(es->instance);
	es->release.func = release_exec_state;
	es->release.arg = es;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &es->release);
	es->rio = relation_io_create(rel);
	return es;
}

static void
mcBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	McExecState *es = exec_state_create(node->ss.ps.state, node->ss.ss_currentRelation);

	es->qual_specs = list_nth(plan->fdw_private, FP_QUALS);
	es->target_names = list_nth(plan->fdw_private, FP_TARGETS);
	es->sortkeys = list_nth(plan->fdw_private, FP_SORTKEYS);
	es->limit = list_nth(plan->fdw_private, FP_LIMIT);
	es->exprs = plan->fdw_exprs;
	es->expr_states = ExecInitExprList(plan->fdw_exprs, (PlanState *) node);
	node->fdw_state = es;
}

static void
start_python_scan(ForeignScanState *node, McExecState *es)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcontext = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	PyObject   *quals = quals_to_python(es->qual_specs, es->exprs, es->expr_states, es->rio, econtext, false);
	PyObject   *result;

	MemoryContextSwitchTo(oldcontext);
	result = mc_call_method(ERROR, es->instance, "execute", es->relname,
							Py_BuildValue("(NN)", quals, names_to_pyset(es->target_names)),
							scan_kwargs(es));
	if (result == Py_None)
	{
		Py_DECREF(result);
		es->done = true;
		return;
	}
	es->iterator = PyObject_GetIter(result);
	Py_DECREF(result);
	if (es->iterator == NULL)
		py_raise_error(ERROR, "execute() of foreign table \"%s\" must return an iterable", es->relname);
}

static TupleTableSlot *
mcIterateForeignScan(ForeignScanState *node)
{
	McExecState *es = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcontext;

	ExecClearTuple(slot);
	if (es->iterator == NULL && !es->done)
		start_python_scan(node, es);
	if (es->done)
		return slot;

	/* Between rows: lets statement_timeout and pg_cancel_backend end a long scan. */
	CHECK_FOR_INTERRUPTS();

	es->row = PyIter_Next(es->iterator);
	if (es->row == NULL)
	{
		if (PyErr_Occurred())
			py_raise_fdw_error(ERROR, "iterating the result of execute() of foreign table \"%s\"",
						   es->relname);
		es->done = true;
		return slot;
	}
	if (es->row == Py_None)		/* multicorn2: a None item ends the scan */
	{
		Py_CLEAR(es->row);
		es->done = true;
		return slot;
	}
	oldcontext = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	python_row_to_slot(es->rio, es->row, slot);
	MemoryContextSwitchTo(oldcontext);
	Py_CLEAR(es->row);
	return ExecStoreVirtualTuple(slot);
}

static void
mcReScanForeignScan(ForeignScanState *node)
{
	McExecState *es = node->fdw_state;

	/* The next iteration calls execute() again, with the new parameter values. */
	Py_CLEAR(es->iterator);
	es->done = false;
}

static void
mcEndForeignScan(ForeignScanState *node)
{
	McExecState *es = node->fdw_state;

	Py_CLEAR(es->iterator);
	Py_XDECREF(mc_call_method(ERROR, es->instance, "end_scan", es->relname, NULL, NULL));
	release_exec_state(es);
}

static void
mcExplainForeignScan(ForeignScanState *node, ExplainState *explain)
{
	McExecState *es = node->fdw_state;
	PyObject   *kwargs = scan_kwargs(es);
	PyObject   *result,
			   *lines;
	List	   *texts = NIL;
	ListCell   *lc;
	Py_ssize_t	i;

	PyDict_SetItemString(kwargs, "verbose", explain->verbose ? Py_True : Py_False);
	result = mc_call_method(ERROR, es->instance, "explain", es->relname,
							Py_BuildValue("(NN)",
										  quals_to_python(es->qual_specs, es->exprs, NIL, es->rio, NULL, true),
										  names_to_pyset(es->target_names)),
							kwargs);
	if (result == Py_None)
	{
		Py_DECREF(result);
		return;
	}
	lines = PySequence_Fast(result, "explain() must return a list of strings");
	Py_DECREF(result);
	if (lines == NULL)
		py_raise_error(ERROR, "reading explain() of foreign table \"%s\"", es->relname);
	for (i = 0; i < PySequence_Fast_GET_SIZE(lines); i++)
		texts = lappend(texts, py_object_to_server_str(PySequence_Fast_GET_ITEM(lines, i),
													   "an explain() line"));
	Py_DECREF(lines);
	/*
	 * Text shows one "Multicorn:" line each.  The other formats get one property holding the
	 * list: a property per line would repeat the key in one JSON object (and YAML mapping), of
	 * which a parser keeps only the last.
	 */
	if (explain->format == EXPLAIN_FORMAT_TEXT)
		foreach(lc, texts)
			ExplainPropertyText("Multicorn", lfirst(lc), explain);
	else if (texts != NIL)
		ExplainPropertyList("Multicorn", texts, explain);
}

/* ------------------------------------------------------------------------
 * Modifying
 * ------------------------------------------------------------------------ */

static char *
rowid_column(PyObject *instance, const char *relname)
{
	PyObject   *name = PyObject_GetAttrString(instance, "rowid_column");
	char	   *result;

	if (name == NULL)
		py_raise_fdw_error(ERROR, "rowid_column of foreign table \"%s\"", relname);
	if (name == Py_None)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("foreign table \"%s\" does not support UPDATE or DELETE: its rowid_column is None",
						relname)));
	result = py_object_to_server_str(name, "rowid_column");
	Py_DECREF(name);
	return result;
}

static void
mcAddForeignUpdateTargets(PlannerInfo *root, Index rtindex, RangeTblEntry *target_rte,
						  Relation target_relation)
{
	FdwInstance *entry = mc_get_instance(RelationGetRelid(target_relation));
	const char *relname = RelationGetRelationName(target_relation);
	char	   *column = rowid_column(entry->instance, relname);
	AttrNumber	attnum = get_attnum(RelationGetRelid(target_relation), column);
	Form_pg_attribute att;

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("The rowid attribute does not exist"),
				 errdetail_log("rowid_column \"%s\" is not a column of foreign table \"%s\".", column, relname)));
	att = TupleDescAttr(RelationGetDescr(target_relation), attnum - 1);
	add_row_identity_var(root, makeVar(rtindex, attnum, att->atttypid, att->atttypmod,
									   att->attcollation, 0),
						 rtindex, ROWID_JUNK_NAME);

	/*
	 * DELETE ... RETURNING needs the deleted row when delete() returns nothing;
	 * PostgreSQL adds this whole-row Var by itself for UPDATE (appendinfo.c).
	 */
	if (root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL)
		add_row_identity_var(root, makeWholeRowVar(target_rte, rtindex, 0, false),
							 rtindex, "wholerow");
}

static List *
mcPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation, int subplan_index)
{
	return NIL;
}

static McExecState *
modify_state_create(EState *estate, ResultRelInfo *rinfo)
{
	McExecState *es = exec_state_create(estate, rinfo->ri_RelationDesc);

	es->rowcxt = AllocSetContextCreate(estate->es_query_cxt, "multicorn row",
									   ALLOCSET_DEFAULT_SIZES);
	rinfo->ri_FdwState = es;
	return es;
}

/* The state of rinfo; ERROR rather than a crash if PostgreSQL skipped our Begin callback. */
static McExecState *
modify_state(ResultRelInfo *rinfo)
{
	if (rinfo->ri_FdwState == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("foreign table \"%s\" was not prepared for modification",
						RelationGetRelationName(rinfo->ri_RelationDesc))));
	return rinfo->ri_FdwState;
}

static void
mcBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
					 int subplan_index, int eflags)
{
	McExecState *es = modify_state_create(mtstate->ps.state, rinfo);

	if (mtstate->operation == CMD_UPDATE || mtstate->operation == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;
		char	   *column = rowid_column(es->instance, es->relname);

		es->rowid_resno = ExecFindJunkAttributeInTlist(subplan->targetlist, ROWID_JUNK_NAME);
		es->rowid_attnum = get_attnum(RelationGetRelid(rinfo->ri_RelationDesc), column);
		if (!AttributeNumberIsValid(es->rowid_resno) || es->rowid_attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not find the rowid column \"%s\" of foreign table \"%s\"",
							column, es->relname)));
	}
	else
	{
		/*
		 * multicorn2 reads rowid_column whenever a write starts, INSERT included, before the
		 * statement's scans run: the FDW can tell that the statement writes the table it may
		 * also read (INSERT INTO t SELECT ... FROM t; intercom_fdw then reads the scan first).
		 */
		PyObject   *name = PyObject_GetAttrString(es->instance, "rowid_column");

		if (name == NULL)
			py_raise_fdw_error(ERROR, "rowid_column of foreign table \"%s\"", es->relname);
		Py_DECREF(name);
	}
}

/* COPY FROM and tuple routing into a foreign partition insert without a ModifyTable plan. */
static void
mcBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	modify_state_create(mtstate->ps.state, rinfo);
}

/* Replace the slot's contents by what insert()/update()/delete() returned, if anything. */
static PyObject *
rowid_value(McExecState *es, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		value = ExecGetJunkAttribute(planSlot, es->rowid_resno, &isnull);
	PyObject   *result;

	if (isnull)
		Py_RETURN_NONE;
	result = datum_to_python(value, es->rio->columns[es->rowid_attnum - 1].typoid);
	if (result == NULL)
		py_raise_error(ERROR, "converting the rowid of foreign table \"%s\"", es->relname);
	return result;
}

/* For DELETE ... RETURNING when delete() returned nothing: the row from the whole-row Var. */
static void
store_deleted_row(ResultRelInfo *rinfo, TupleTableSlot *planSlot, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		wholerow;
	HeapTupleHeader td;
	HeapTupleData tuple;
	MemoryContext oldcontext;

	if (!AttributeNumberIsValid(rinfo->ri_RowIdAttNo))
		return;
	wholerow = ExecGetJunkAttribute(planSlot, rinfo->ri_RowIdAttNo, &isnull);
	if (isnull)
		return;
	td = DatumGetHeapTupleHeader(wholerow);
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = RelationGetRelid(rinfo->ri_RelationDesc);
	tuple.t_data = td;
	/* the slot keeps a pointer to the HeapTuple: give it its own copy */
	oldcontext = MemoryContextSwitchTo(slot->tts_mcxt);
	ExecForceStoreHeapTuple(heap_copytuple(&tuple), slot, true);
	MemoryContextSwitchTo(oldcontext);
}

typedef enum WriteKind
{
	WRITE_INSERT,
	WRITE_UPDATE,
	WRITE_DELETE
} WriteKind;

/*
 * insert(values), update(rowid, newvalues) or delete(rowid).  A row returned by Python
 * replaces the slot's contents (it feeds RETURNING).  Values are converted in a memory
 * context reset for every row, so a long INSERT ... SELECT stays flat.
 */
static TupleTableSlot *
write_row(WriteKind kind, ResultRelInfo *rinfo, TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	McExecState *es = modify_state(rinfo);
	MemoryContext oldcontext;
	PyObject   *args,
			   *result;
	static const char *const methods[] = {"insert", "update", "delete"};

	MemoryContextReset(es->rowcxt);
	oldcontext = MemoryContextSwitchTo(es->rowcxt);
	if (kind == WRITE_INSERT)
		args = Py_BuildValue("(N)", slot_to_python_dict(es->rio, slot));
	else if (kind == WRITE_UPDATE)
		args = Py_BuildValue("(NN)", rowid_value(es, planSlot), slot_to_python_dict(es->rio, slot));
	else
		args = Py_BuildValue("(N)", rowid_value(es, planSlot));
	result = mc_call_method(ERROR, es->instance, methods[kind], es->relname, args, NULL);
	if (result == Py_None)
	{
		if (kind == WRITE_DELETE)
			store_deleted_row(rinfo, planSlot, slot);
	}
	else
	{
		es->row = result;
		ExecClearTuple(slot);
		python_row_to_slot(es->rio, result, slot);
		ExecStoreVirtualTuple(slot);
		es->row = NULL;
	}
	Py_DECREF(result);
	MemoryContextSwitchTo(oldcontext);
	return slot;
}

static TupleTableSlot *
mcExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	return write_row(WRITE_INSERT, rinfo, slot, planSlot);
}

static TupleTableSlot *
mcExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	return write_row(WRITE_UPDATE, rinfo, slot, planSlot);
}

static TupleTableSlot *
mcExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	return write_row(WRITE_DELETE, rinfo, slot, planSlot);
}

static TupleTableSlot **
mcExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots,
						 TupleTableSlot **planSlots, int *numSlots)
{
	McExecState *es = modify_state(rinfo);
	MemoryContext oldcontext;
	PyHold	   *rows,
			   *result;
	int			i;

	/* The holds live in rowcxt: an ERROR while converting a row releases what they hold. */
	MemoryContextReset(es->rowcxt);
	oldcontext = MemoryContextSwitchTo(es->rowcxt);
	rows = py_hold(PyList_New(*numSlots));
	if (rows->obj == NULL)
		py_raise_error(ERROR, "building rows for bulk_insert()");
	for (i = 0; i < *numSlots; i++)
		PyList_SET_ITEM(rows->obj, i, slot_to_python_dict(es->rio, slots[i]));
	result = py_hold(mc_call_method(ERROR, es->instance, "bulk_insert", es->relname,
									Py_BuildValue("(N)", py_unhold(rows)), NULL));
	/* Returned rows matter only for WITH CHECK OPTION / AFTER triggers (see multicorn2). */
	if (result->obj != Py_None && PySequence_Check(result->obj) &&
		PySequence_Size(result->obj) == *numSlots)
	{
		for (i = 0; i < *numSlots; i++)
		{
			PyHold	   *row = py_hold(PySequence_GetItem(result->obj, i));

			if (row->obj != NULL && row->obj != Py_None)
			{
				ExecClearTuple(slots[i]);
				python_row_to_slot(es->rio, row->obj, slots[i]);
				ExecStoreVirtualTuple(slots[i]);
			}
			py_release(row);
		}
	}
	PyErr_Clear();
	py_release(result);
	MemoryContextSwitchTo(oldcontext);
	return slots;
}

static int
mcGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	McExecState *es = modify_state(rinfo);
	PyObject   *size;
	double		n;

	/*
	 * RETURNING needs row-by-row inserts: PostgreSQL 15's batched insert path
	 * (ExecBatchInsert in nodeModifyTable.c) never projects RETURNING, so the rows would
	 * be lost.  postgres_fdw returns 1 here too; multicorn2 3.2 does not, and there
	 * INSERT ... RETURNING with modify_batch_size > 1 returns no rows.
	 *
	 * Row triggers and WITH CHECK OPTION do not stop batching, as under multicorn2, and
	 * need not: ExecBatchInsert runs the AFTER ROW triggers and the view checks for every
	 * row of the batch, on the rows bulk_insert() returned, and ExecInsert sends the
	 * pending batch before a BEFORE ROW trigger runs, so the trigger sees the earlier
	 * rows.  Transition tables cannot be collected from foreign tables at all.  (Tested
	 * in tests/runtime/test_modify.py.)  What changes from row-by-row: an AFTER ROW
	 * trigger runs once its whole batch is sent, not right after its own row.
	 */
	if (rinfo->ri_projectReturning != NULL)
		return 1;
	size = PyObject_GetAttrString(es->instance, "modify_batch_size");
	if (size == NULL)
		py_raise_fdw_error(ERROR, "modify_batch_size of foreign table \"%s\"", es->relname);
	if (size == Py_None)
	{
		Py_DECREF(size);
		return 1;
	}
	n = python_number(size, "modify_batch_size", es->relname);
	if (!(n >= 1))				/* NaN too */
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("modify_batch_size of foreign table \"%s\" must be at least 1, not %g",
						es->relname, n)));
	return (int) Min(n, 65535);
}

static void
mcEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	McExecState *es = rinfo->ri_FdwState;

	if (es == NULL)
		return;
	rinfo->ri_FdwState = NULL;
	Py_XDECREF(mc_call_method(ERROR, es->instance, "end_modify", es->relname, NULL, NULL));
	release_exec_state(es);
}

/* ------------------------------------------------------------------------
 * IMPORT FOREIGN SCHEMA
 * ------------------------------------------------------------------------ */

static List *
mcImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const char *wrapper;
	List	   *srv_options = server_and_mapping_options(serverOid, &wrapper);
	PyObject   *cls = mc_wrapper_class(wrapper);
	PyObject   *restricts = PyList_New(0);
	PyObject   *tables,
			   *iterator,
			   *item;
	List	   *commands = NIL;
	ListCell   *lc;
	const char *restriction = NULL;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
		restriction = "limit";
	else if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT)
		restriction = "except";
	foreach(lc, stmt->table_list)
	{
		PyObject   *name = py_str_from_server(((RangeVar *) lfirst(lc))->relname);

		if (name == NULL || PyList_Append(restricts, name) != 0)
			py_raise_error(ERROR, "building the IMPORT FOREIGN SCHEMA table list");
		Py_DECREF(name);
	}
	tables = mc_call_method(ERROR, cls, "import_schema", NULL,
							Py_BuildValue("(NNNzN)", py_str_from_server(stmt->remote_schema),
										  options_to_pydict(srv_options),
										  options_to_pydict(stmt->options), restriction, restricts),
							NULL);
	Py_DECREF(cls);
	iterator = PyObject_GetIter(tables);
	Py_DECREF(tables);
	if (iterator == NULL)
		py_raise_error(ERROR, "import_schema() must return a list of TableDefinition");
	while ((item = PyIter_Next(iterator)) != NULL)
	{
		PyObject   *statement = mc_call_method(ERROR, item, "to_statement", NULL,
											   Py_BuildValue("(ss)", stmt->local_schema,
															 server->servername), NULL);

		commands = lappend(commands, py_object_to_server_str(statement, "a to_statement() result"));
		Py_DECREF(statement);
		Py_DECREF(item);
	}
	Py_DECREF(iterator);
	if (PyErr_Occurred())
		py_raise_error(ERROR, "iterating the result of import_schema()");
	return commands;
}

/* ------------------------------------------------------------------------
 * Handler and validator
 * ------------------------------------------------------------------------ */

Datum
multicorn_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = mcGetForeignRelSize;
	routine->GetForeignPaths = mcGetForeignPaths;
	routine->GetForeignPlan = mcGetForeignPlan;
	routine->GetForeignUpperPaths = mcGetForeignUpperPaths;
	routine->ExplainForeignScan = mcExplainForeignScan;
	routine->BeginForeignScan = mcBeginForeignScan;
	routine->IterateForeignScan = mcIterateForeignScan;
	routine->ReScanForeignScan = mcReScanForeignScan;
	routine->EndForeignScan = mcEndForeignScan;

	routine->AddForeignUpdateTargets = mcAddForeignUpdateTargets;
	routine->PlanForeignModify = mcPlanForeignModify;
	routine->BeginForeignModify = mcBeginForeignModify;
	routine->ExecForeignInsert = mcExecForeignInsert;
	routine->ExecForeignBatchInsert = mcExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = mcGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = mcExecForeignUpdate;
	routine->ExecForeignDelete = mcExecForeignDelete;
	routine->EndForeignModify = mcEndForeignModify;
	routine->BeginForeignInsert = mcBeginForeignInsert;
	routine->EndForeignInsert = mcEndForeignModify;

	routine->ImportForeignSchema = mcImportForeignSchema;
	PG_RETURN_POINTER(routine);
}

/*
 * The wrapper class is chosen on the server only (a table-level wrapper would let table
 * owners run other Python code, which is why multicorn2 refuses it too), and must import.
 * Messages are multicorn2's; it refuses `wrapper` on tables only, this runtime on user
 * mappings too (where it would be ignored).
 */
Datum
multicorn_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	char	   *wrapper = NULL;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "wrapper") == 0)
			wrapper = defGetString(def);
	}
	if (wrapper != NULL && catalog != ForeignServerRelationId)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("Cannot set the wrapper class on the table"),
				 errhint("Set it on the server")));
	if (catalog == ForeignServerRelationId)
	{
		if (wrapper == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("The wrapper parameter is mandatory, specify a valid class name")));
		Py_DECREF(mc_wrapper_class(wrapper));
	}
	PG_RETURN_VOID();
}
