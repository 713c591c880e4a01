/*
 * jsonb.c: a Python dict or list for a jsonb column, built as jsonb directly.
 *
 * multicorn2 turns a dict into 'k=>v' text (which jsonb_in refuses) and a list into its str();
 * an FDW must hand it JSON text, which the column's input function then lexes again, sorting every
 * object's keys: for a scan that returns whole JSON objects (a table's raw `attrs` column), that
 * was most of the backend's time outside Python.  Here the value is built from the Python objects
 * themselves, giving what jsonb_in gives for the text json.dumps(value) / orjson.dumps(value)
 * would write (tested side by side in tests/runtime/test_jsonb_from_python.py):
 *
 *   dict -> object (keys must be str), list and tuple -> array, str -> string, bool -> boolean,
 *   None -> null, int -> number (exactly, any size), float -> number from repr() (its shortest
 *   exact digits), NaN and infinities -> null (as orjson writes them; JSON has no such numbers).
 *
 * A str holding U+0000 fails as jsonb_in fails on "\u0000" (jsonb cannot hold it), and any other
 * type inside the value (a datetime, a Decimal, ...) fails naming it.  multicorn.JSONB_FROM_PYTHON
 * tells an FDW that this runtime takes dicts and lists for jsonb columns.
 *
 * No Python code runs while a value is built (no __str__, no __index__): the str objects whose
 * UTF-8 the strings point to stay alive, held by the row.
 */
#include "multicorn_compat.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

static void build_value(PyObject *obj, JsonbValue *out);

/* The bytes of a str in the server encoding (the UTF-8 Python caches, in a UTF-8 database). */
static void
build_string(PyObject *str, JsonbValue *out)
{
	Py_ssize_t	len;
	const char *utf8 = PyUnicode_AsUTF8AndSize(str, &len);
	const char *s;

	if (utf8 == NULL)
		py_raise_error(ERROR, "encoding a Python str as UTF-8");
	/* what jsonb_in says of the "\u0000" that json.dumps writes for it */
	if (memchr(utf8, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported Unicode escape sequence"),
				 errdetail("\\u0000 cannot be converted to text.")));
	if (GetDatabaseEncoding() == PG_UTF8)
		s = utf8;
	else
	{
		s = py_as_server_str(str, &len);	/* ERROR for a character the encoding lacks */
		if (s == NULL)
			py_raise_error(ERROR, "encoding a Python str");
	}
	out->type = jbvString;
	out->val.string.val = (char *) s;
	out->val.string.len = (int) len;
}

/* numeric_in of a number's text, as jsonb_in reads a JSON number */
static void
build_number_text(const char *text, JsonbValue *out)
{
	out->type = jbvNumeric;
	out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
														   ObjectIdGetDatum(InvalidOid),
														   Int32GetDatum(-1)));
}

static void
build_int(PyObject *obj, JsonbValue *out)
{
	int			overflow;
	long long	v = PyLong_AsLongLongAndOverflow(obj, &overflow);
	PyObject   *repr;
	const char *s;
	char	   *text;

	if (!overflow && !(v == -1 && PyErr_Occurred()))
	{
		out->type = jbvNumeric;
		out->val.numeric = int64_to_numeric((int64) v);
		return;
	}
	PyErr_Clear();
	/* int's own repr (an int subclass's __repr__ is not called): its decimal digits */
	repr = PyLong_Type.tp_repr(obj);
	s = repr ? PyUnicode_AsUTF8(repr) : NULL;
	if (s == NULL)
	{
		Py_XDECREF(repr);
		py_raise_error(ERROR, "formatting a Python int");
	}
	text = pstrdup(s);
	Py_DECREF(repr);
	build_number_text(text, out);
}

static void
build_float(PyObject *obj, JsonbValue *out)
{
	double		d = PyFloat_AS_DOUBLE(obj);
	char	   *repr;
	char	   *text;

	if (isnan(d) || isinf(d))
	{
		out->type = jbvNull;
		return;
	}
	repr = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
	if (repr == NULL)
		py_raise_error(ERROR, "formatting a Python float");
	text = pstrdup(repr);
	PyMem_Free(repr);
	build_number_text(text, out);
}

/* A key as jsonb orders keys: shorter first, then bytewise; `index` keeps equal keys in order. */
typedef struct KeyedItem
{
	JsonbValue	key;
	PyObject   *value;
	int			index;
} KeyedItem;

static inline int
key_order(const KeyedItem *x, const KeyedItem *y)
{
	int			c;

	if (x->key.val.string.len != y->key.val.string.len)
		return x->key.val.string.len < y->key.val.string.len ? -1 : 1;
	c = memcmp(x->key.val.string.val, y->key.val.string.val, x->key.val.string.len);
	if (c != 0)
		return c;
	return x->index < y->index ? -1 : (x->index > y->index);
}

static int
key_order_of_pointers(const void *a, const void *b)
{
	return key_order(*(KeyedItem *const *) a, *(KeyedItem *const *) b);
}

/*
 * The order the last object of each size sorted into (indexes of its items, first key first):
 * the objects of a scan (a page of contacts, their nested objects) mostly have the same keys in
 * the same order, so starting from it the insertion sort below only checks that the keys are in
 * order (n - 1 comparisons instead of about n * n / 4).  Any other object of that size is still
 * sorted right: it merely starts from a poorer order.
 */
#define REMEMBERED_SIZES 64
static int *last_order[REMEMBERED_SIZES + 1];

/*
 * Sorts pointers to the items: objects have tens of keys, where an insertion sort with the order
 * inline beats qsort (which swaps its elements byte by byte); qsort beyond.  The order is total
 * (key_order breaks ties by index), so where the sort starts does not change where it ends.
 */
static void
sort_keys(KeyedItem *items, KeyedItem **sorted, int n)
{
	int		   *order;

	if (n > REMEMBERED_SIZES)
	{
		for (int i = 0; i < n; i++)
			sorted[i] = &items[i];
		qsort(sorted, n, sizeof(KeyedItem *), key_order_of_pointers);
		return;
	}
	order = last_order[n];
	for (int i = 0; i < n; i++)
		sorted[i] = &items[order ? order[i] : i];
	for (int i = 1; i < n; i++)
	{
		KeyedItem  *item = sorted[i];
		int			j = i;

		while (j > 0 && key_order(sorted[j - 1], item) > 0)
		{
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = item;
	}
	if (order == NULL && n > 1)
		order = last_order[n] = MemoryContextAlloc(TopMemoryContext, sizeof(int) * n);
	for (int i = 0; order && i < n; i++)
		order[i] = sorted[i]->index;
}

static bool
same_key(const JsonbValue *a, const JsonbValue *b)
{
	return a->val.string.len == b->val.string.len &&
		memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
}

static void
build_object(PyObject *dict, JsonbValue *out)
{
	Py_ssize_t	n = PyDict_GET_SIZE(dict),
				pos = 0;
	KeyedItem  *items = n > 0 ? palloc(sizeof(KeyedItem) * n) : NULL;
	KeyedItem **sorted = n > 0 ? palloc(sizeof(KeyedItem *) * n) : NULL;
	PyObject   *key,
			   *value;
	int			i = 0,
				kept = 0;
	/* distinct str have distinct UTF-8: keys of the same bytes only in another server encoding */
	bool		may_repeat = GetDatabaseEncoding() != PG_UTF8;

	while (i < n && PyDict_Next(dict, &pos, &key, &value))
	{
		if (!PyUnicode_Check(key))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("a key of a Python dict for jsonb is a %s, not a str", Py_TYPE(key)->tp_name)));
		build_string(key, &items[i].key);
		items[i].value = value;
		items[i].index = i;
		i++;
	}
	sort_keys(items, sorted, i);
	out->type = jbvObject;
	out->val.object.pairs = i > 0 ? palloc(sizeof(JsonbPair) * i) : NULL;
	for (int j = 0; j < i; j++)
	{
		JsonbPair  *pair;

		/* keys of the same bytes (distinct str in another encoding): the later wins, as in jsonb_in */
		if (may_repeat && j > 0 && same_key(&sorted[j - 1]->key, &sorted[j]->key))
			kept--;
		pair = &out->val.object.pairs[kept++];
		pair->key = sorted[j]->key;
		pair->order = sorted[j]->index;
		build_value(sorted[j]->value, &pair->value);
	}
	out->val.object.nPairs = kept;
	if (items)
	{
		pfree(items);
		pfree(sorted);
	}
}

static void
build_array(PyObject *seq, JsonbValue *out)
{
	/* a list or tuple: no Python code runs meanwhile, so its items stay as they are */
	Py_ssize_t	n = PySequence_Fast_GET_SIZE(seq);
	PyObject  **items = PySequence_Fast_ITEMS(seq);

	out->type = jbvArray;
	out->val.array.rawScalar = false;
	out->val.array.nElems = (int) n;
	out->val.array.elems = n > 0 ? palloc(sizeof(JsonbValue) * n) : NULL;
	for (Py_ssize_t i = 0; i < n; i++)
		build_value(items[i], &out->val.array.elems[i]);
}

static void
build_value(PyObject *obj, JsonbValue *out)
{
	if (obj == Py_None)
		out->type = jbvNull;
	else if (PyBool_Check(obj))
	{
		out->type = jbvBool;
		out->val.boolean = (obj == Py_True);
	}
	else if (PyUnicode_Check(obj))
		build_string(obj, out);
	else if (PyLong_Check(obj))
		build_int(obj, out);
	else if (PyFloat_Check(obj))
		build_float(obj, out);
	else if (PyDict_Check(obj) || PyList_Check(obj) || PyTuple_Check(obj))
	{
		/* nested (even self-referencing) containers recurse here: stop with an ERROR, not a crash */
		check_stack_depth();
		if (PyDict_Check(obj))
			build_object(obj, out);
		else
			build_array(obj, out);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("a Python %s inside a value for jsonb has no JSON form", Py_TYPE(obj)->tp_name),
				 errhint("Values for jsonb hold dict, list, tuple, str, int, float, bool and None only.")));
}

/* The jsonb of a dict or list (palloc'd in the current memory context); ERROR if it has no JSON form. */
Datum
python_to_jsonb(PyObject *obj)
{
	JsonbValue	root;

	build_value(obj, &root);
	return PointerGetDatum(JsonbValueToJsonb(&root));
}
