import { describe, expect, it } from 'vitest';
import { operationOf } from './failed-call.js';

describe('operationOf', () => {
  it('puts endpoints in words', () => {
    expect(operationOf('POST /nodes/bulk')).toBe('node create (bulk)');
    expect(operationOf('DELETE /project/{project_id}/security-groups/{security_group_id}')).toBe('security-group delete');
    expect(operationOf('PUT /project/{project_id}/routers/{router_id}/add_router_interface')).toBe('add_router_interface');
  });
});
