/*
 * quals.c: WHERE clauses -> multicorn.Qual, ORDER BY -> multicorn.SortKey.
 *
 * A clause becomes a Qual when one side is a column of the foreign table and the other
 * side can be computed before the scan: a Const, a Param (join parameters of
 * parameterized paths become Params in create_foreignscan_plan), or a stable expression
 * such as now().  The other side is stored in ForeignScan.fdw_exprs and evaluated when
 * execute() is called, so re-scans see new values.  Forms (as multicorn2 src/query.c):
 *   col op value, value op col (commuted through pg_operator.oprcom),
 *   col op ANY/ALL(array)      -> Qual(col, (op, True/False), [values]),
 *   col IS NULL / IS NOT NULL  -> Qual(col, '=' / '<>', None),
 *   bool col / NOT bool col    -> Qual(col, '=' / '<>', 't')   (text output of true),
 *   col IS [NOT] TRUE / FALSE  -> Qual(col, 'IS' / 'IS NOT', 't' / 'f'),
 *   col IS [NOT] UNKNOWN       -> Qual(col, 'IS' / 'IS NOT', None).
 * The quals of the null tests (IS [NOT] NULL, IS [NOT] UNKNOWN) also carry null_test = True
 * (multicorn2 has no such attribute): `col = None` from `col IS NULL` is then told apart from a
 * comparison whose value is NULL (`col = $1` with NULL, a join's NULL outer value), which no row
 * satisfies.
 * At planning only Const values are known: get_rel_size() gets those quals alone, and
 * explain() gets the others with the value multicorn.UNBOUND (a str equal to '?').
 * Anything else is simply not passed on; PostgreSQL re-checks every clause anyway
 * (all clauses stay in the plan's qual list).
 */
#include "multicorn_compat.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "access/stratnum.h"
#include "utils/lsyscache.h"

/* Fields of one qual spec (a List, so that plans can be copied and serialized). */
#define QS_ATTNUM	0
#define QS_OPNAME	1
#define QS_ISARRAY	2
#define QS_USEOR	3
#define QS_EXPRIDX	4
#define QS_NULLTEST	5

static Node *
strip_relabel(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

/* attnum if node is a user column of baserel, else 0 */
static AttrNumber
own_column(Node *node, RelOptInfo *baserel)
{
	node = strip_relabel(node);
	if (node && IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varno == baserel->relid && var->varlevelsup == 0 && var->varattno > 0)
			return var->varattno;
	}
	return 0;
}

/* Can expr be evaluated once before the scan, without this relation's columns? */
static bool
computable_before_scan(PlannerInfo *root, Node *expr, RelOptInfo *baserel)
{
	return !bms_is_member(baserel->relid, pull_varnos(root, expr)) &&
		!contain_volatile_functions(expr) &&
		!contain_subplans(expr);
}

static void
add_qual(List **specs, List **exprs, AttrNumber attnum, const char *opname,
		 Expr *value, bool is_array, bool use_or, bool null_test)
{
	*exprs = lappend(*exprs, value);
	*specs = lappend(*specs, lappend(list_make5(makeInteger(attnum), makeString(pstrdup(opname)),
												makeInteger(is_array), makeInteger(use_or),
												makeInteger(list_length(*exprs) - 1)),
									 makeInteger(null_test)));
}

static Expr *
bool_true_const(void)
{
	return (Expr *) makeBoolConst(true, false);
}

void
extract_quals(PlannerInfo *root, RelOptInfo *baserel, List *clauses,
			  List **specs, List **exprs)
{
	ListCell   *lc;

	foreach(lc, clauses)
	{
		Node	   *clause = lfirst(lc);
		AttrNumber	attnum;

		if (IsA(clause, RestrictInfo))
			clause = (Node *) ((RestrictInfo *) clause)->clause;

		if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) clause;
			Node	   *left = linitial(op->args);
			Node	   *right = lsecond(op->args);

			if ((attnum = own_column(left, baserel)) != 0 &&
				computable_before_scan(root, right, baserel))
				add_qual(specs, exprs, attnum, get_opname(op->opno), (Expr *) right, false, false, false);
			else if ((attnum = own_column(right, baserel)) != 0 &&
					 computable_before_scan(root, left, baserel) &&
					 OidIsValid(get_commutator(op->opno)))
				add_qual(specs, exprs, attnum, get_opname(get_commutator(op->opno)),
						 (Expr *) left, false, false, false);
		}
		else if (IsA(clause, ScalarArrayOpExpr))
		{
			ScalarArrayOpExpr *op = (ScalarArrayOpExpr *) clause;
			Node	   *right = lsecond(op->args);

			if ((attnum = own_column(linitial(op->args), baserel)) != 0 &&
				computable_before_scan(root, right, baserel))
				add_qual(specs, exprs, attnum, get_opname(op->opno), (Expr *) right, true, op->useOr, false);
		}
		else if (IsA(clause, NullTest) && !((NullTest *) clause)->argisrow)
		{
			NullTest   *test = (NullTest *) clause;

			if ((attnum = own_column((Node *) test->arg, baserel)) != 0)
				add_qual(specs, exprs, attnum, test->nulltesttype == IS_NULL ? "=" : "<>",
						 (Expr *) makeNullConst(INT4OID, -1, InvalidOid), false, false, true);
		}
		else if (IsA(clause, BooleanTest))
		{
			BooleanTest *test = (BooleanTest *) clause;
			BoolTestType kind = test->booltesttype;
			bool		negated = (kind == IS_NOT_TRUE || kind == IS_NOT_FALSE || kind == IS_NOT_UNKNOWN);
			Expr	   *value;

			if ((attnum = own_column((Node *) test->arg, baserel)) == 0)
				continue;
			if (kind == IS_UNKNOWN || kind == IS_NOT_UNKNOWN)
				value = (Expr *) makeNullConst(BOOLOID, -1, InvalidOid);
			else
				value = (Expr *) makeBoolConst(kind == IS_TRUE || kind == IS_NOT_TRUE, false);
			add_qual(specs, exprs, attnum, negated ? "IS NOT" : "IS", value, false, false,
					 kind == IS_UNKNOWN || kind == IS_NOT_UNKNOWN);
		}
		else if (IsA(clause, Var) && ((Var *) clause)->vartype == BOOLOID &&
				 (attnum = own_column(clause, baserel)) != 0)
			add_qual(specs, exprs, attnum, "=", bool_true_const(), false, false, false);
		else if (is_notclause(clause) &&
				 IsA(get_notclausearg((Expr *) clause), Var) &&
				 ((Var *) get_notclausearg((Expr *) clause))->vartype == BOOLOID &&
				 (attnum = own_column((Node *) get_notclausearg((Expr *) clause), baserel)) != 0)
			add_qual(specs, exprs, attnum, "<>", bool_true_const(), false, false, false);
	}
}

/*
 * The Python list of Qual objects.  With expr_states (execution) every value is
 * evaluated in econtext.  Without (planning, EXPLAIN) only Consts are known; the other
 * quals are left out (get_rel_size(), as multicorn2), or with_unbound (explain()) get
 * the value multicorn.UNBOUND: multicorn2 passes them to explain() too, with the value
 * 0 converted by the column's type, which is '?' for text but 0 for an int and
 * 2000-01-01 for a date.
 */
PyObject *
quals_to_python(List *specs, List *exprs, List *expr_states, RelationIO *rio,
				ExprContext *econtext, bool with_unbound)
{
	int			nspecs = list_length(specs);
	Datum	   *values = palloc0(sizeof(Datum) * Max(nspecs, 1));
	bool	   *nulls = palloc0(sizeof(bool) * Max(nspecs, 1));
	bool	   *known = palloc0(sizeof(bool) * Max(nspecs, 1));
	PyObject   *qual_class;
	PyObject   *unbound;
	PyObject   *result;
	ListCell   *lc;
	int			n = 0;

	/*
	 * Evaluate every value first: an expression may fail (1 / $1), and no Python
	 * object may be held when that ERROR is raised.
	 */
	foreach(lc, specs)
	{
		int			idx = intVal(list_nth(lfirst(lc), QS_EXPRIDX));
		Expr	   *expr = list_nth(exprs, idx);

		if (IsA(expr, Const))
		{
			values[n] = ((Const *) expr)->constvalue;
			nulls[n] = ((Const *) expr)->constisnull;
			known[n] = true;
		}
		else if (expr_states != NIL)
		{
			values[n] = ExecEvalExpr(list_nth(expr_states, idx), econtext, &nulls[n]);
			known[n] = true;
		}
		n++;
	}

	qual_class = mc_multicorn_attr("Qual");
	unbound = with_unbound ? mc_multicorn_attr("UNBOUND") : NULL;
	result = PyList_New(0);
	if (result == NULL)
		py_raise_error(ERROR, "building quals");
	n = 0;
	foreach(lc, specs)
	{
		List	   *spec = lfirst(lc);
		AttrNumber	attnum = intVal(list_nth(spec, QS_ATTNUM));
		const char *opname = strVal(list_nth(spec, QS_OPNAME));
		Expr	   *expr = list_nth(exprs, intVal(list_nth(spec, QS_EXPRIDX)));
		ColumnIO   *col = &rio->columns[attnum - 1];
		Datum		value = values[n];
		bool		isnull = nulls[n];
		PyObject   *p_value,
				   *p_op,
				   *qual;

		if (!known[n++])
		{
			if (unbound == NULL)
				continue;		/* known only at execution (planning) */
			p_value = Py_NewRef(unbound);
		}
		else if (isnull)
		{
			Py_INCREF(Py_None);
			p_value = Py_None;
		}
		else
			p_value = datum_to_python(value, exprType((Node *) expr));
		p_op = p_value ? PyUnicode_FromString(opname) : NULL;
		if (p_op != NULL && intVal(list_nth(spec, QS_ISARRAY)))
		{
			PyObject   *pair = Py_BuildValue("(OO)", p_op,
											 intVal(list_nth(spec, QS_USEOR)) ? Py_True : Py_False);

			Py_DECREF(p_op);
			p_op = pair;
		}
		qual = p_op ? PyObject_CallFunctionObjArgs(qual_class, col->pyname, p_op, p_value, NULL) : NULL;
		Py_XDECREF(p_op);
		Py_XDECREF(p_value);
		if (qual != NULL && intVal(list_nth(spec, QS_NULLTEST)) &&
			PyObject_SetAttrString(qual, "null_test", Py_True) != 0)
			Py_CLEAR(qual);
		if (qual == NULL || PyList_Append(result, qual) != 0)
		{
			Py_XDECREF(qual);
			Py_DECREF(result);
			Py_DECREF(qual_class);
			Py_XDECREF(unbound);
			py_raise_error(ERROR, "building the qual on column \"%s\" of foreign table \"%s\"",
						   col->name, rio->relname);
		}
		Py_DECREF(qual);
	}
	Py_DECREF(qual_class);
	Py_XDECREF(unbound);
	return result;
}

/*
 * ORDER BY items on columns of baserel, as long as they form a prefix of pathkeys.
 * Each: list(attname, attnum, is_reversed, nulls_first, collation name or "").
 */
List *
deparse_sortkeys(PlannerInfo *root, RelOptInfo *baserel, List *pathkeys, int *nkeys)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, pathkeys)
	{
		PathKey    *pk = lfirst(lc);
		EquivalenceClass *ec = pk->pk_eclass;
		ListCell   *lm;
		Var		   *found = NULL;
		const char *collation = "";

		if (ec->ec_has_volatile)
			break;
		foreach(lm, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(lm);
			Node	   *expr = strip_relabel((Node *) em->em_expr);

			if (!em->em_is_child && own_column(expr, baserel) != 0)
			{
				found = (Var *) expr;
				break;
			}
		}
		if (found == NULL)
			break;
		if (OidIsValid(ec->ec_collation) && ec->ec_collation != DEFAULT_COLLATION_OID)
			collation = get_collation_name(ec->ec_collation);
		result = lappend(result,
						 list_make5(makeString(get_attname(planner_rt_fetch(baserel->relid, root)->relid,
														   found->varattno, false)),
									makeInteger(found->varattno),
									makeInteger(pk->pk_strategy == BTGreaterStrategyNumber),
									makeInteger(pk->pk_nulls_first),
									makeString(pstrdup(collation))));
	}
	*nkeys = list_length(result);
	return result;
}

PyObject *
sortkeys_to_python(List *sortkeys)
{
	PyObject   *sortkey_class = mc_multicorn_attr("SortKey");
	PyObject   *result = PyList_New(0);
	ListCell   *lc;

	foreach(lc, sortkeys)
	{
		List	   *sk = lfirst(lc);
		const char *collation = strVal(list_nth(sk, 4));
		PyObject   *name = py_str_from_server(strVal(linitial(sk)));
		PyObject   *coll = collation[0] ? py_str_from_server(collation) : (Py_INCREF(Py_None), Py_None);
		PyObject   *key = (name && coll) ?
			PyObject_CallFunction(sortkey_class, "OiOOO", name, intVal(lsecond(sk)),
								  intVal(lthird(sk)) ? Py_True : Py_False,
								  intVal(lfourth(sk)) ? Py_True : Py_False, coll) : NULL;

		Py_XDECREF(name);
		Py_XDECREF(coll);
		if (key == NULL || PyList_Append(result, key) != 0)
		{
			Py_XDECREF(key);
			Py_DECREF(result);
			Py_DECREF(sortkey_class);
			py_raise_error(ERROR, "building sort keys");
		}
		Py_DECREF(key);
	}
	Py_DECREF(sortkey_class);
	return result;
}

/*
 * How many leading requested sort keys the FDW accepted: can_sort() returns the
 * SortKeys it will honour, in order; a key counts if it matches the request at the
 * same position (column, direction, nulls order).  `requested` must be a list that
 * can_sort() never saw, so that changes it made to its argument cannot match.
 */
int
accepted_sortkeys(PyObject *requested, PyObject *accepted)
{
	PyObject   *seq;
	Py_ssize_t	i,
				n;

	if (accepted == Py_None)
		return 0;
	/* a tuple: the comparisons run Python (__eq__) that could shrink a returned list */
	seq = PySequence_Tuple(accepted);
	if (seq == NULL)
		py_raise_error(ERROR, "reading the result of can_sort()");
	n = Min(PyTuple_GET_SIZE(seq), PyList_GET_SIZE(requested));
	for (i = 0; i < n; i++)
	{
		PyObject   *want = PyList_GET_ITEM(requested, i);
		PyObject   *got = PyTuple_GET_ITEM(seq, i);
		int			same = PyObject_RichCompareBool(want, got, Py_EQ);

		if (same < 0)
		{
			Py_DECREF(seq);
			py_raise_error(ERROR, "comparing the result of can_sort()");
		}
		if (!same)
			break;
	}
	Py_DECREF(seq);
	return (int) i;
}
