import type { ClientBase, Pool } from 'pg';

/** One node of a query plan: its type, and the table and index it reads, if any. */
export interface PlanNode {
  nodeType: string;
  relation?: string;
  index?: string;
}

/**
 * The plan PostgreSQL makes for `text` with these `values`, as a statement sent unnamed (not {@link prepared})
 * gets it on every call: planned with the tables' statistics and their current size. Its nodes as a list.
 * Plans only: nothing is executed (`EXPLAIN` without `ANALYZE`).
 */
export async function planOf(
  client: ClientBase | Pool,
  text: string,
  values: unknown[],
): Promise<PlanNode[]> {
  const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: RawPlanNode }> }>(
    `EXPLAIN (FORMAT JSON) ${text}`,
    values,
  );
  return flatten(rows[0]!['QUERY PLAN'][0]!.Plan);
}

interface RawPlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: RawPlanNode[];
}

function flatten(node: RawPlanNode): PlanNode[] {
  const own: PlanNode = { nodeType: node['Node Type'] };
  if (node['Relation Name'] !== undefined) own.relation = node['Relation Name'];
  if (node['Index Name'] !== undefined) own.index = node['Index Name'];
  return [own, ...(node.Plans ?? []).flatMap(flatten)];
}

/**
 * How `plan` reads `tables`: each access as `table: node type (index)` in plan order — e.g.
 * `routing: Index Scan (routing_pkey)` — and each index a bitmap reads as `Bitmap Index Scan (index)`. Joins and
 * other nodes that read no table are left out.
 */
export function tableAccesses(plan: readonly PlanNode[], tables: readonly string[]): string[] {
  return plan.flatMap((node) => {
    const index = node.index === undefined ? '' : ` (${node.index})`;
    if (node.relation !== undefined)
      return tables.includes(node.relation) ? [`${node.relation}: ${node.nodeType}${index}`] : [];
    return node.index === undefined ? [] : [`${node.nodeType}${index}`];
  });
}
