// The spec's JavaScript/React example (order-process-flow.md), run by test_spec_example.py.
// Harness first: an `apiClient` over fetch (as an axios-style client returning the parsed body)
// and the ids the usage section takes for granted. The example leaves the OTPs to the people
// involved; the harness reads them as soon as they exist (after mark-ready and start-delivery),
// as the restaurant and the customer would, and offers them as the globals the example reads.
const BASE = process.env.ORDERFLOW_URL;
const headers = {
  Authorization: `Bearer ${process.env.ORDERFLOW_TOKEN}`,
  'Content-Type': 'application/json',
};

async function request(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
  }
  return data;
}

const apiClient = {
  get: (path) => request('GET', path),
  post: async (path, body) => {
    const data = await request('POST', path, body);
    if (path.endsWith('/mark-ready/')) {
      globalThis.pickupOTP = (await request('GET', `/api/orders/${orderId}/otp/?type=pickup`)).otp;
    }
    if (path.endsWith('/start-delivery/')) {
      globalThis.deliveryOTP = (await request('GET', `/api/orders/${orderId}/otp/?type=delivery`)).otp;
    }
    return data;
  },
};
const orderId = process.env.ORDERFLOW_ORDER_ID;

// ---- verbatim from the spec from here on --------------------------------------------------
// Order Service
class OrderService {
  constructor(apiClient) {
    this.api = apiClient;
  }

  // Get order details
  async getOrder(orderId) {
    return await this.api.get(`/api/orders/${orderId}/`);
  }

  // List orders
  async listOrders(filters = {}) {
    const params = new URLSearchParams(filters);
    return await this.api.get(`/api/orders/?${params}`);
  }

  // Cancel order
  async cancelOrder(orderId, reason) {
    return await this.api.post(`/api/orders/${orderId}/cancel/`, {
      reason
    });
  }

  // Get order history
  async getOrderHistory(orderId) {
    return await this.api.get(`/api/orders/${orderId}/history/`);
  }

  // Get order ETA
  async getOrderETA(orderId) {
    return await this.api.get(`/api/orders/${orderId}/eta/`);
  }

  // Get delivery OTP
  async getDeliveryOTP(orderId) {
    return await this.api.get(`/api/orders/${orderId}/otp/?type=delivery`);
  }
}

// Restaurant Service
class RestaurantService {
  constructor(apiClient) {
    this.api = apiClient;
  }

  // Get order queue
  async getOrderQueue() {
    return await this.api.get('/api/restaurants/orders/queue/');
  }

  // Confirm order
  async confirmOrder(orderId, estimatedPrepTime = 20) {
    return await this.api.post(`/api/restaurants/orders/${orderId}/confirm/`, {
      estimated_prep_time: estimatedPrepTime
    });
  }

  // Start preparing
  async startPreparing(orderId) {
    return await this.api.post(`/api/restaurants/orders/${orderId}/start-preparing/`);
  }

  // Mark ready
  async markReady(orderId) {
    return await this.api.post(`/api/restaurants/orders/${orderId}/mark-ready/`);
  }
}

// Delivery Service
class DeliveryService {
  constructor(apiClient) {
    this.api = apiClient;
  }

  // Get available orders
  async getAvailableOrders() {
    return await this.api.get('/api/orders/available/');
  }

  // Pickup order
  async pickupOrder(orderId, otp) {
    return await this.api.post(`/api/orders/${orderId}/pickup/`, {
      otp
    });
  }

  // Start delivery
  async startDelivery(orderId) {
    return await this.api.post(`/api/orders/${orderId}/start-delivery/`);
  }

  // Complete delivery
  async completeDelivery(orderId, otp, deliveryNotes) {
    return await this.api.post(`/api/orders/${orderId}/complete-delivery/`, {
      otp,
      delivery_notes: deliveryNotes
    });
  }
}

// Usage Example
const orderService = new OrderService(apiClient);

// Customer: Track order
const order = await orderService.getOrder(orderId);
console.log(`Order status: ${order.order_status}`);

// Restaurant: Process order
const restaurantService = new RestaurantService(apiClient);
await restaurantService.confirmOrder(orderId, 20);
await restaurantService.startPreparing(orderId);
await restaurantService.markReady(orderId);

// Delivery: Deliver order
const deliveryService = new DeliveryService(apiClient);
const availableOrders = await deliveryService.getAvailableOrders();
await deliveryService.pickupOrder(orderId, pickupOTP);
await deliveryService.startDelivery(orderId);
await deliveryService.completeDelivery(orderId, deliveryOTP, "Delivered successfully");
