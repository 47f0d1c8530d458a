export interface ProductCreated {
  type: 'ProductCreated';
  data: { productId: string; sku: string; name: string; priceCents: number };
}
export type ProductEvent = ProductCreated;
